// WorkloadSupervisor with /bin/sh scripts as the workload: real processes and pipes; restart
// backoff and the SIGKILL deadline run on manual time.
#include "porthole/agent/workload_supervisor.hpp"

#include <signal.h>

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "porthole/common/manual_time.hpp"
#include "workload_test_support.hpp"

namespace porthole::agent {
namespace {

using porthole::testing::metric;
using porthole::testing::run_until;
using ::testing::ElementsAre;

class CollectingSink final : public telemetry::ItemSink<telemetry::LogItem> {
 public:
  bool submit(telemetry::LogItem&& item) override {
    if (items.size() >= capacity) return false;
    items.push_back(std::move(item));
    return true;
  }
  std::vector<std::string> bodies(const std::string& stream) const {
    std::vector<std::string> out;
    for (const auto& i : items) {
      const auto* s = telemetry::find_attribute(i.record.attributes, "log.iostream");
      if (s && std::get<std::string>(s->value) == stream) out.push_back(std::get<std::string>(i.record.body.value));
    }
    return out;
  }
  bool saw(const std::string& body) const {
    for (const auto& i : items) {
      if (std::get<std::string>(i.record.body.value) == body) return true;
    }
    return false;
  }
  std::size_t capacity = 1'000'000;
  std::vector<telemetry::LogItem> items;
};

class WorkloadSupervisorTest : public ::testing::Test {
 protected:
  WorkloadSupervisor& supervisor(std::string script) {
    config_.command = {"/bin/sh", "-c", std::move(script)};
    supervisor_ = std::make_unique<WorkloadSupervisor>(io_.get_executor(), time_, config_, sink_, registry_,
                                                       [] { return 0.999; }, false);
    return *supervisor_;
  }
  void run_until_exits(std::uint64_t n) {
    ASSERT_TRUE(run_until(io_, [&] { return supervisor_->exits() >= n; })) << "exits: " << supervisor_->exits();
  }
  double value(const std::string& name, const prometheus::Labels& labels = {}) {
    return metric(registry_, name, labels);
  }

  boost::asio::io_context io_;
  ManualTimeSource time_;
  WorkloadConfig config_;
  CollectingSink sink_;
  prometheus::Registry registry_;
  std::unique_ptr<WorkloadSupervisor> supervisor_;
};

TEST_F(WorkloadSupervisorTest, CapturesStdoutAndStderrLineByLineInOrder) {
  config_.restart = RestartPolicy::Never;
  config_.service_name = "shop";
  auto& s = supervisor("i=1; while [ $i -le 200 ]; do echo line $i; i=$((i+1)); done; echo oops >&2; printf tail");
  s.start();
  EXPECT_GT(s.pid(), 0);
  EXPECT_EQ(value("porthole_workload_running"), 1);
  run_until_exits(1);
  const auto out = sink_.bodies("stdout");
  ASSERT_EQ(out.size(), 201u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(out[i], "line " + std::to_string(i + 1));
  EXPECT_EQ(out.back(), "tail");  // the last line without a newline
  EXPECT_THAT(sink_.bodies("stderr"), ElementsAre("oops"));
  for (const auto& item : sink_.items) {
    const bool err = std::get<std::string>(item.record.body.value) == "oops";
    EXPECT_EQ(item.record.severity_number, err ? 13 : 9);
    EXPECT_EQ(item.record.severity_text, err ? "WARN" : "INFO");
    EXPECT_GT(item.record.observed_time_unix_nano, 0u);
    EXPECT_EQ(std::get<std::string>(telemetry::find_attribute(item.origin->resource.attributes, "service.name")->value),
              "shop");
  }
  EXPECT_EQ(s.last_exit_status(), 0);
  EXPECT_FALSE(s.restart_pending());
  EXPECT_EQ(value("porthole_workload_running"), 0);
  EXPECT_EQ(value("porthole_workload_log_lines_total", {{"stream", "stdout"}}), 201);
  EXPECT_EQ(value("porthole_workload_exits_total", {{"reason", "exit"}}), 1);
}

TEST_F(WorkloadSupervisorTest, LongLinesAreSplitAndCounted) {
  config_.restart = RestartPolicy::Never;
  config_.max_line_bytes = 256;
  auto& s = supervisor("head -c 600 /dev/zero | tr '\\0' a; echo; echo short");
  s.start();
  run_until_exits(1);
  const auto out = sink_.bodies("stdout");
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], std::string(256, 'a'));
  EXPECT_EQ(out[1], std::string(256, 'a'));
  EXPECT_EQ(out[2], std::string(88, 'a'));
  EXPECT_EQ(out[3], "short");
  EXPECT_EQ(value("porthole_workload_log_lines_split_total", {{"stream", "stdout"}}), 2);
  EXPECT_NE(telemetry::find_attribute(sink_.items[0].record.attributes, "porthole.log.split"), nullptr);
  EXPECT_EQ(telemetry::find_attribute(sink_.items[2].record.attributes, "porthole.log.split"), nullptr);
}

TEST_F(WorkloadSupervisorTest, OnFailureRestartsAFailedWorkloadWithBackoff) {
  config_.restart = RestartPolicy::OnFailure;
  config_.restart_backoff = {std::chrono::seconds(1), std::chrono::seconds(8), 2.0};
  auto& s = supervisor("echo run; exit 3");
  s.start();
  run_until_exits(1);
  EXPECT_EQ(s.last_exit_status(), 3);
  EXPECT_EQ(value("porthole_workload_last_exit_code"), 3);
  EXPECT_TRUE(s.restart_pending());
  EXPECT_EQ(s.pid(), -1);
  time_.advance(std::chrono::milliseconds(900));  // the first delay is at most 1 s (here ~1 s)
  EXPECT_TRUE(s.restart_pending());
  time_.advance(std::chrono::milliseconds(100));
  EXPECT_FALSE(s.restart_pending());
  EXPECT_EQ(value("porthole_workload_restarts_total"), 1);
  run_until_exits(2);
  // The second delay has doubled.
  time_.advance(std::chrono::milliseconds(1500));
  EXPECT_TRUE(s.restart_pending());
  time_.advance(std::chrono::milliseconds(500));
  EXPECT_FALSE(s.restart_pending());
  run_until_exits(3);
  EXPECT_EQ(value("porthole_workload_exits_total", {{"reason", "exit"}}), 3);
  EXPECT_EQ(value("porthole_workload_restarts_total"), 2);
  EXPECT_EQ(sink_.bodies("stdout").size(), 3u);
}

TEST_F(WorkloadSupervisorTest, OnFailureLeavesACleanExitAloneAndAlwaysRestartsIt) {
  config_.restart = RestartPolicy::OnFailure;
  auto& s = supervisor("exit 0");
  s.start();
  run_until_exits(1);
  EXPECT_FALSE(s.restart_pending());

  config_.restart = RestartPolicy::Always;
  auto& a = supervisor("exit 0");
  a.start();
  run_until_exits(1);
  EXPECT_TRUE(a.restart_pending());
}

TEST_F(WorkloadSupervisorTest, DeathBySignalIsReportedAs128PlusTheSignal) {
  config_.restart = RestartPolicy::Never;
  auto& s = supervisor("kill -KILL $$");
  s.start();
  run_until_exits(1);
  EXPECT_EQ(s.last_exit_status(), 128 + SIGKILL);
  EXPECT_EQ(value("porthole_workload_exits_total", {{"reason", "signal"}}), 1);
  EXPECT_EQ(value("porthole_workload_exits_total", {{"reason", "exit"}}), 0);
}

TEST_F(WorkloadSupervisorTest, StopSendsSigtermAndTheWorkloadExitsCleanly) {
  config_.restart = RestartPolicy::Always;
  auto& s = supervisor("trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.01; done");
  s.start();
  ASSERT_TRUE(run_until(io_, [&] { return sink_.saw("ready"); }));
  s.stop();
  EXPECT_FALSE(s.finished());
  ASSERT_TRUE(run_until(io_, [&] { return s.finished() && s.exits() == 1; }));
  EXPECT_TRUE(sink_.saw("got-term"));
  EXPECT_EQ(s.last_exit_status(), 0);
  EXPECT_FALSE(s.restart_pending());  // stopping: never restarted
}

TEST_F(WorkloadSupervisorTest, LeftoverChildrenHoldingThePipesAreKilledAfterTheGrace) {
  config_.restart = RestartPolicy::Never;
  auto& s = supervisor("sleep 1000 & echo $!; echo bye; exit 5");
  s.start();
  ASSERT_TRUE(run_until(io_, [&] { return sink_.saw("bye") && s.pid() < 0; }));
  EXPECT_EQ(s.exits(), 0u);  // the sleep still holds stdout: waiting for the last lines
  time_.advance(std::chrono::seconds(1));
  EXPECT_EQ(s.exits(), 1u);
  EXPECT_EQ(s.last_exit_status(), 5);
  // The sleep was killed with the rest of the group (gone, or a zombie of whoever adopted it).
  const auto sleep_pid = std::get<std::string>(sink_.items.at(0).record.body.value);
  EXPECT_TRUE(run_until(io_, [&] {
    std::ifstream stat("/proc/" + sleep_pid + "/stat");
    std::string pid, comm, state;
    return !(stat >> pid >> comm >> state) || state == "Z";
  }));
}

TEST_F(WorkloadSupervisorTest, AWorkloadIgnoringSigtermIsKilledAfterStopTimeout) {
  config_.stop_timeout = std::chrono::seconds(3);
  auto& s = supervisor("trap '' TERM; echo ready; sleep 1000 & wait; sleep 1000");
  s.start();
  ASSERT_TRUE(run_until(io_, [&] { return sink_.saw("ready"); }));
  s.stop();
  // SIGTERM is ignored: still running (the group's sleep ignores it too, inherited).
  EXPECT_FALSE(run_until(io_, [&] { return s.finished(); }, std::chrono::milliseconds(200)));
  time_.advance(std::chrono::seconds(3));
  ASSERT_TRUE(run_until(io_, [&] { return s.finished(); }));
  run_until_exits(1);
  EXPECT_EQ(s.last_exit_status(), 128 + SIGKILL);
}

TEST_F(WorkloadSupervisorTest, SignalsAreForwardedToTheWorkload) {
  auto& s = supervisor("trap 'echo got-usr1' USR1; echo ready; while :; do sleep 1000 & wait $!; done");
  s.start();
  ASSERT_TRUE(run_until(io_, [&] { return sink_.saw("ready"); }));
  EXPECT_TRUE(s.forward_signal(SIGUSR1));
  ASSERT_TRUE(run_until(io_, [&] { return sink_.saw("got-usr1"); }));
  s.stop();
  ASSERT_TRUE(run_until(io_, [&] { return s.finished(); }));
  EXPECT_FALSE(s.forward_signal(SIGUSR1));
}

TEST_F(WorkloadSupervisorTest, EnvironmentAndWorkingDirectory) {
  config_.restart = RestartPolicy::Never;
  config_.env = {{"PORTHOLE_TEST_VAR", "hello world"}};
  config_.working_dir = "/tmp";
  auto& s = supervisor("echo \"$PORTHOLE_TEST_VAR\"; pwd; ls /proc/self/fd | wc -l");
  s.start();
  run_until_exits(1);
  const auto out = sink_.bodies("stdout");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], "hello world");
  EXPECT_EQ(out[1], "/tmp");
  // stdin, stdout, stderr, and ls's own directory handle: nothing of the agent's leaks in.
  EXPECT_EQ(out[2], "4");
}

TEST_F(WorkloadSupervisorTest, AProgramThatCannotRunIsCountedAndRetried) {
  config_.command = {"/nonexistent/porthole-workload"};
  supervisor_ = std::make_unique<WorkloadSupervisor>(io_.get_executor(), time_, config_, sink_, registry_,
                                                     [] { return 0.999; }, false);
  supervisor_->start();
  EXPECT_EQ(value("porthole_workload_start_errors_total"), 1);
  EXPECT_TRUE(supervisor_->restart_pending());
  time_.advance(std::chrono::seconds(1));
  EXPECT_EQ(value("porthole_workload_start_errors_total"), 2);
}

TEST_F(WorkloadSupervisorTest, LinesThePipelineRefusesAreCounted) {
  config_.restart = RestartPolicy::Never;
  sink_.capacity = 2;
  auto& s = supervisor("echo a; echo b; echo c; echo d");
  s.start();
  run_until_exits(1);
  EXPECT_EQ(sink_.items.size(), 2u);
  EXPECT_EQ(value("porthole_workload_log_lines_dropped_total", {{"stream", "stdout"}}), 2);
  EXPECT_EQ(value("porthole_workload_log_lines_total", {{"stream", "stdout"}}), 4);
}

}  // namespace
}  // namespace porthole::agent
