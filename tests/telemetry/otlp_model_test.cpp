// Splitting batches into queued items and grouping them back by resource and scope.
#include <gtest/gtest.h>

#include "otlp_test_data.hpp"
#include "porthole/telemetry/otlp_model.hpp"

namespace porthole::telemetry {
namespace {

TEST(OtlpModel, SplitThenGroupGivesTheSameBatchWithoutEmptyGroups) {
  TraceBatch batch = testing::sample_trace_batch();
  batch.resource_spans[0].scope_spans.pop_back();  // empty scope groups do not survive items
  const TraceBatch expected = batch;
  auto items = split_batch(std::move(TraceBatch(batch)));
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].origin, items[3].origin);  // shared within a scope group
  EXPECT_NE(items[0].origin, items[4].origin);
  EXPECT_EQ(group_items(std::move(items)), expected);
}

TEST(OtlpModel, GroupMergesEqualOriginsFromDifferentPointers) {
  auto a = std::make_shared<const ItemOrigin>(ItemOrigin{Resource{{{"service.name", AnyValue("x")}}, 0}, "", {"s", "1", {}, 0}, ""});
  auto b = std::make_shared<const ItemOrigin>(*a);
  auto c = std::make_shared<const ItemOrigin>(ItemOrigin{a->resource, "", {"t", "1", {}, 0}, ""});
  std::vector<SpanItem> items;
  for (const auto& origin : {a, b, c, a}) items.push_back(SpanItem{origin, {}});
  const TraceBatch batch = group_items(std::move(items));
  ASSERT_EQ(batch.resource_spans.size(), 1u);
  ASSERT_EQ(batch.resource_spans[0].scope_spans.size(), 2u);
  EXPECT_EQ(batch.resource_spans[0].scope_spans[0].spans.size(), 3u);
  EXPECT_EQ(batch.resource_spans[0].scope_spans[1].scope.name, "t");
}

TEST(OtlpModel, LogsSplitAndGroup) {
  const LogBatch batch = testing::sample_log_batch();
  auto items = split_batch(LogBatch(batch));
  EXPECT_EQ(items.size(), batch.log_record_count());
  EXPECT_GT(approx_bytes(items[0]), sizeof(LogItem));
  EXPECT_EQ(group_items(std::move(items)), batch);
}

}  // namespace
}  // namespace porthole::telemetry
