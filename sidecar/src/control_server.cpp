#include "porthole/sidecar/control_server.hpp"

#include "porthole/common/logging.hpp"

namespace porthole::sidecar {

namespace {
// A peer that connects and says nothing holds a slot until control.hello_timeout; this many
// may wait at once, so a flood of silent connections cannot pile up.
constexpr std::size_t kMaxHandshaking = 16;
}  // namespace

ControlServer::ControlServer(boost::asio::any_io_executor executor, TimeSource& time, const SidecarConfig& config,
                             relay::ControlMetrics& metrics)
    : executor_(std::move(executor)), time_(time), config_(config), metrics_(metrics), log_(logger("control")) {
  if (!config_.enclave_name.empty()) enclave_name_ = config_.enclave_name;
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::start() {
  const auto endpoint = config_.boundary.control_endpoint();
  relay::Endpoint listen_on = endpoint;
  if (listen_on.kind == relay::TransportKind::Vsock) listen_on.cid = relay::kAnyCid;
  acceptor_.emplace(relay::listen(executor_, listen_on));
  log_->info("control: listening on {} for the agent", listen_on.to_string());
  accept_loop_.emplace(*acceptor_, time_, log_, "control", [this](relay::Stream s) { on_accepted(std::move(s)); });
  accept_loop_->start();
}

void ControlServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (accept_loop_) accept_loop_->stop();
  auto handshaking = std::move(handshaking_);
  for (auto& s : handshaking) s->close(relay::CloseReason::Shutdown, "the sidecar is shutting down", true);
  if (auto s = std::move(current_)) s->close(relay::CloseReason::Shutdown, "the sidecar is shutting down", true);
  metrics_.connected.Set(0);
}

void ControlServer::on_accepted(relay::Stream stream) {
  if (handshaking_.size() >= kMaxHandshaking) {
    log_->warn("control: {} connections are already waiting for hello; refusing one more", handshaking_.size());
    metrics_.disconnects[relay::CloseReason::Backpressure]->Increment();
    return;  // the stream closes here
  }
  relay::apply_stream_options(stream, config_.boundary.transport.kind, config_.boundary.stream);
  auto options = config_.control.session_options(relay::Role::Sidecar, config_.name);
  // weak_ptr slot filled after create(): callbacks must not keep their own session alive.
  auto self_slot = std::make_shared<std::weak_ptr<relay::ControlSession>>();
  relay::ControlSession::Callbacks callbacks;
  callbacks.on_ready = [this, self_slot](const relay::Hello& peer) {
    auto session = self_slot->lock();
    if (!session) return;
    handshaking_.erase(session);
    if (!config_.enclave_name.empty() && peer.name != config_.enclave_name) {
      session->close(relay::CloseReason::ProtocolError,
                     "enclave '" + peer.name + "' is not the configured enclave '" + config_.enclave_name + "'", true);
      return;
    }
    if (auto old = std::move(current_)) {
      old->close(relay::CloseReason::Superseded, "a new session from enclave '" + peer.name + "' replaces this one",
                 true);
    }
    current_ = session;
    enclave_name_ = peer.name;
    metrics_.connected.Set(1);
    log_->info("control: enclave '{}' connected (agent {}, control protocol v{})", peer.name, peer.software_version,
               peer.version);
  };
  callbacks.on_closed = [this, self_slot](relay::CloseReason, const std::string&) {
    auto session = self_slot->lock();
    if (!session) return;
    handshaking_.erase(session);
    if (session == current_) {
      current_.reset();
      metrics_.connected.Set(0);
    }
  };
  auto session = relay::ControlSession::create(std::move(stream), time_, std::move(options), metrics_, log_,
                                               std::move(callbacks));
  *self_slot = session;
  handshaking_.insert(session);
  session->start();
}

bool ControlServer::ready() const {
  return current_ && current_->ready() && time_.now() - current_->last_heard() <= config_.control.heartbeat_timeout;
}

std::string ControlServer::status() const {
  if (!current_) {
    return "no agent connected on " + config_.boundary.control_endpoint().to_string() +
           (enclave_name_ ? " (last enclave: '" + *enclave_name_ + "')" : "");
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(time_.now() - current_->last_heard()).count();
  return "enclave '" + current_->peer().name + "' connected, last heard " + std::to_string(ms) + " ms ago";
}

}  // namespace porthole::sidecar
