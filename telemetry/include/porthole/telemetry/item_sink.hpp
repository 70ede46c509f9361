// Where finished spans and log records go: the interface between producers (the Tracer, the OTLP
// receiver, the log shipper) and whatever batches and exports them (BatchProcessor).
#pragma once

#include "porthole/telemetry/otlp_model.hpp"

namespace porthole::telemetry {

template <class Item>
class ItemSink {
 public:
  virtual ~ItemSink() = default;
  // Thread-safe and never blocks. Returns false when the item was dropped (and counted).
  virtual bool submit(Item&& item) = 0;
};

// OpenTelemetry calls this a SpanProcessor (on_end); we only need the end of a span.
using SpanProcessor = ItemSink<SpanItem>;
using LogProcessor = ItemSink<LogItem>;

}  // namespace porthole::telemetry
