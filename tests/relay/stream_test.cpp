#include "porthole/relay/stream.hpp"

#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

namespace porthole::relay {
namespace {

class UdsConnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "porthole-stream-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Endpoint endpoint(const std::string& name) const {
    Endpoint e;
    e.kind = TransportKind::Uds;
    e.path = (dir_ / name).string();
    return e;
  }

  // Connects n streams and runs the io_context until every handler has run.
  std::vector<boost::system::error_code> connect(const Endpoint& to, std::vector<Stream>& streams, int n) {
    std::vector<std::optional<boost::system::error_code>> results(n);
    for (int i = 0; i < n; ++i) streams.emplace_back(io_);
    for (int i = 0; i < n; ++i) {
      async_connect(streams[i], to, [&results, i](boost::system::error_code ec) { results[i] = ec; });
    }
    io_.run();
    io_.restart();
    std::vector<boost::system::error_code> out;
    for (auto& r : results) {
      EXPECT_TRUE(r.has_value()) << "a connect handler never ran";
      out.push_back(r.value_or(boost::asio::error::operation_aborted));
    }
    return out;
  }

  boost::asio::io_context io_;
  std::filesystem::path dir_;
};

TEST_F(UdsConnectTest, AFullAcceptQueueFailsTheConnectInsteadOfReportingAStreamThatCannotWrite) {
  const auto to = endpoint("full.sock");
  Acceptor acceptor = listen(io_.get_executor(), to, 1);  // never accepts
  std::vector<Stream> streams;
  const auto results = connect(to, streams, 6);
  int connected = 0, full = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!results[i]) {
      ++connected;
      boost::system::error_code wec;
      boost::asio::write(streams[i], boost::asio::buffer("x", 1), wec);
      EXPECT_FALSE(wec) << "stream " << i << " was reported connected but cannot write: " << wec.message();
    } else {
      EXPECT_EQ(results[i], boost::asio::error::try_again) << results[i].message();
      ++full;
    }
  }
  EXPECT_GE(connected, 1);
  EXPECT_GE(full, 1) << "the kernel queued more than the backlog allows";
}

TEST_F(UdsConnectTest, NoListenerIsAnErrorNotASuccess) {
  std::vector<Stream> streams;
  const auto results = connect(endpoint("nobody.sock"), streams, 1);
  EXPECT_EQ(results[0], boost::system::errc::no_such_file_or_directory) << results[0].message();
}

TEST_F(UdsConnectTest, AStaleSocketFileIsRefused) {
  const auto to = endpoint("stale.sock");
  { Acceptor gone = listen(io_.get_executor(), to, 1); }  // closed; the file stays
  std::vector<Stream> streams;
  const auto results = connect(to, streams, 1);
  EXPECT_EQ(results[0], boost::asio::error::connection_refused) << results[0].message();
}

}  // namespace
}  // namespace porthole::relay
