#include "porthole/common/process_metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace porthole {
namespace {

prometheus::MetricFamily gauge_family(std::string name, std::string help, prometheus::MetricType type, double value,
                                      const prometheus::Labels& labels) {
  prometheus::ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  if (type == prometheus::MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  return prometheus::MetricFamily{std::move(name), std::move(help), type, {std::move(m)}};
}

}  // namespace

int count_open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int n = 0;
  while (auto* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream's own fd
}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the parenthesised command name, which may itself contain spaces.
    auto close = line.rfind(')');
    std::istringstream rest(line.substr(close + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(rest)), std::istream_iterator<std::string>());
    // f[0] is field 3 (state): utime=14, stime=15, starttime=22, rss=24 (man 5 proc).
    if (f.size() > 22) {
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      out.push_back(gauge_family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                                 prometheus::MetricType::Counter, cpu, labels_));
      out.push_back(gauge_family("process_resident_memory_bytes", "Resident memory size in bytes.",
                                 prometheus::MetricType::Gauge, std::stod(f[21]) * page, labels_));
      std::ifstream uptime_in("/proc/stat");
      std::string key;
      double btime = 0;
      while (uptime_in >> key) {
        if (key == "btime") {
          uptime_in >> btime;
          break;
        }
      }
      out.push_back(gauge_family("process_start_time_seconds",
                                 "Start time of the process since unix epoch in seconds.",
                                 prometheus::MetricType::Gauge, btime + std::stod(f[19]) / ticks, labels_));
    }
  }
  const int fds = count_open_fds();
  if (fds >= 0) {
    out.push_back(gauge_family("process_open_fds", "Number of open file descriptors.", prometheus::MetricType::Gauge,
                               fds, labels_));
  }
  return out;
}

}  // namespace porthole

#include <sys/resource.h>

namespace porthole {

long raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<long>(limit.rlim_cur);
}

}  // namespace porthole
