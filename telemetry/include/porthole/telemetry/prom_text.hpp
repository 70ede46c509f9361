// A strict, bounded parser for the Prometheus text exposition format 0.0.4, producing the
// prometheus-cpp data model so the text can be relabelled and re-serialised with
// prometheus::TextSerializer. Its input is untrusted (the enclave agent's metrics as seen by the
// sidecar; workload /metrics endpoints as seen by the agent): it never throws on bad input, and
// its work and memory are linear in the input, which is capped by PromParseLimits::max_bytes.
//
// Conventions of the produced families (chosen so TextSerializer 1.0.1 output round-trips):
// - A family is named by its TYPE line; a counter keeps the name as written (usually with
//   `_total`), because TextSerializer 1.0.1 writes `family.name` as-is for counters too.
// - MetricFamily::help holds the HELP text still escaped as on the wire (`\\`, `\n`), because
//   TextSerializer 1.0.1 writes help verbatim: unescaping would let a `\n` escape in hostile
//   input inject lines into the re-serialised output.
// - Label values are unescaped (TextSerializer escapes them); labels are sorted by name.
// - Histogram series hold their buckets sorted by upper bound (the `+Inf` bucket included when
//   present); summaries hold quantiles in input order. `le`/`quantile` are not in `label`.
// - `timestamp_ms` is the timestamp of a series' first sample line (0 when absent). The relay
//   drops timestamps before re-exposing (exporter convention: the scraper stamps samples), so
//   they are parsed for validation and completeness only.
// - Families without samples (a HELP/TYPE line only) are left out of the result.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace porthole::telemetry {

struct PromParseLimits {
  // Larger input is rejected whole, before any parsing.
  std::size_t max_bytes = 4 << 20;
  // Reaching either cap stops parsing; what was parsed up to that line is kept.
  std::size_t max_families = 10000;
  std::size_t max_series = 100000;  // label sets (ClientMetrics) over all families
  // A sample line over these is skipped with an error.
  std::size_t max_labels_per_series = 64;
  std::size_t max_label_value_bytes = 4096;  // after unescaping
  // Errors recorded in detail; later ones are only counted (PromParseResult::suppressed_errors)
  // so a hostile input of bad lines cannot turn 4 MiB of text into 100+ MiB of messages.
  std::size_t max_errors = 100;
};

struct PromParseError {
  std::size_t line;     // 1-based; 0 for errors about the whole input
  std::string message;  // e.g. "line 12: invalid metric name 'foo-bar'"
};

struct PromParseResult {
  std::vector<prometheus::MetricFamily> families;
  std::vector<PromParseError> errors;  // skipped lines, then the reason parsing stopped if it did
  std::size_t suppressed_errors = 0;   // errors beyond PromParseLimits::max_errors
};

// Lenient per line: a bad line is skipped and reported in `errors`, so one bad series does not
// lose the rest. Input over max_bytes, or reaching the family/series caps, stops parsing with an
// error. Deliberately stricter than Go's parser in a few places no exporter relies on: hex
// floats, values out of double range and `le`/`quantile` on `_sum`/`_count` lines are errors.
PromParseResult parse_prometheus_text(std::string_view text, const PromParseLimits& limits = {});

// Adds (or overwrites) `labels` on every metric of every family and keeps each label set
// sorted. Overwriting can make two series of a family identical, which a Prometheus server would
// reject as a whole scrape; such later duplicates are removed and their number returned.
// Precondition: label names are valid and not `le`/`quantile` (validated at config load).
std::size_t set_labels(std::vector<prometheus::MetricFamily>& families,
                       const std::vector<prometheus::ClientMetric::Label>& labels);

// Merges `extra` into `base`: a family whose name is new is appended; one with the same name and
// type is concatenated (base's help wins unless empty); one whose type conflicts is dropped and
// its name returned. Series are not de-duplicated across base and extra: give each side a
// distinguishing label (set_labels) before merging.
std::vector<std::string> merge_families(std::vector<prometheus::MetricFamily>& base,
                                        std::vector<prometheus::MetricFamily>&& extra);

}  // namespace porthole::telemetry
