#include "porthole/common/logging.hpp"

#include <chrono>
#include <ctime>
#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace porthole {
namespace {

void append_json_string(std::string_view s, spdlog::memory_buf_t& out) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out.append(std::string_view("\\\"")); break;
      case '\\': out.append(std::string_view("\\\\")); break;
      case '\n': out.append(std::string_view("\\n")); break;
      case '\r': out.append(std::string_view("\\r")); break;
      case '\t': out.append(std::string_view("\\t")); break;
      default:
        if (c < 0x20) {
          const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
          out.append(esc, esc + sizeof esc);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// One JSON object per line: {"ts","level","process","component","msg"}.
class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string process) : process_(std::move(process)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto t = std::chrono::system_clock::to_time_t(msg.time);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[40];
    const auto n = std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    dest.append(std::string_view("{\"ts\":\""));
    dest.append(ts, ts + n);
    dest.append(std::string_view("\",\"level\":"));
    const auto level = spdlog::level::to_string_view(msg.level);
    append_json_string(std::string_view(level.data(), level.size()), dest);
    dest.append(std::string_view(",\"process\":"));
    append_json_string(process_, dest);
    dest.append(std::string_view(",\"component\":"));
    append_json_string(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
    dest.append(std::string_view(",\"msg\":"));
    append_json_string(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    dest.append(std::string_view("}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(process_); }

 private:
  std::string process_;
};

struct Registry {
  std::mutex mutex;
  LoggingConfig config;
  std::string process = "porthole";
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  std::map<std::string, std::shared_ptr<spdlog::logger>> loggers;
  std::vector<spdlog::sink_ptr> extra_sinks;  // add_log_sink()

  void apply(spdlog::logger& l) {
    auto it = config.levels.find(l.name());
    l.set_level(it == config.levels.end() ? config.level : it->second);
    // Warnings and errors are flushed at once: they are what an operator reads after a crash.
    l.flush_on(spdlog::level::warn);
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void setup_logging(const LoggingConfig& config, std::string_view process) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.config = config;
  r.process = std::string(process);
  if (config.format == LoggingConfig::Format::Json) {
    r.sink->set_formatter(std::make_unique<JsonFormatter>(r.process));
  } else {
    r.sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ " + r.process + " [%n] %v", spdlog::pattern_time_type::utc));
  }
  for (auto& [name, l] : r.loggers) r.apply(*l);
}

std::shared_ptr<spdlog::logger> logger(const std::string& component) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.loggers.find(component);
  if (it != r.loggers.end()) return it->second;
  auto l = std::make_shared<spdlog::logger>(component, r.sink);
  for (const auto& extra : r.extra_sinks) l->sinks().push_back(extra);
  r.apply(*l);
  r.loggers.emplace(component, l);
  return l;
}

void add_log_sink(spdlog::sink_ptr sink) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.extra_sinks.push_back(sink);
  for (auto& [name, l] : r.loggers) l->sinks().push_back(sink);
}

bool parse_log_level(std::string_view name, spdlog::level::level_enum& out) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> table[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (const auto& [n, l] : table) {
    if (n == name) {
      out = l;
      return true;
    }
  }
  return false;
}

LoggingConfig read_logging_config(ConfigNode node) {
  LoggingConfig c;
  const auto format = node.string("format", "text");
  if (format == "json") c.format = LoggingConfig::Format::Json;
  else if (format != "text") node.fail("format", "'" + format + "' is not a log format; write text or json");
  const auto level = node.string("level", "info");
  if (!parse_log_level(level, c.level)) {
    node.fail("level", "'" + level + "' is not a log level; write trace, debug, info, warn, error, critical or off");
  }
  auto levels = node.map("levels");
  for (const auto& component : levels.keys()) {
    spdlog::level::level_enum l{};
    const auto name = levels.string(component, "");
    if (!parse_log_level(name, l)) {
      levels.fail(component, "'" + name + "' is not a log level; write trace, debug, info, warn, error, critical or off");
    }
    c.levels[component] = l;
  }
  node.reject_unknown_keys();
  return c;
}

}  // namespace porthole
