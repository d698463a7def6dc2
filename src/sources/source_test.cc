// The source registry: kinds created by name from the spec, and the kinds not built.
#include "sources/source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "log/event_log.h"
#include "sources/event_log_source.h"
#include "sources/file_source.h"
#include "spec/spec_loader.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;

constexpr char kSpec[] = R"yaml(project: t
entities:
  item: {key: id}
sources:
  posted: {timestamp: ts}
  replayed: {kind: file, timestamp: ts, path: /tmp/none.ndjson}
  clicks: {kind: kafka, timestamp: ts, topic: clicks, brokers: "127.0.0.1:1"}
  attrs: {kind: table, entity: item, timestamp: ts, fields: {id: string}}
)yaml";

class SourceRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = ParseProject(kSpec, "freshet.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
  }
  ProjectSpec spec_;
};

TEST_F(SourceRegistryTest, KnownKindsAreTheBuiltOnes) {
  EXPECT_THAT(KnownSourceKinds(), ElementsAre("file", "http", "kafka"));
}

TEST_F(SourceRegistryTest, FileKindIsAFileSource) {
  auto source = CreateSource(spec_.sources.at("replayed"), {&spec_, nullptr});
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->kind(), "file");
  EXPECT_EQ((*source)->name(), "replayed");
  EXPECT_FALSE((*source)->pushed());
  EXPECT_NE(dynamic_cast<FileSource*>(source->get()), nullptr);
}

TEST_F(SourceRegistryTest, HttpKindNeedsTheEventLog) {
  auto source = CreateSource(spec_.sources.at("posted"), {&spec_, nullptr});
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().message(), "source 'posted': kind http needs the event log");
}

TEST_F(SourceRegistryTest, KafkaIsBuiltAndLiveTableIsNoSource) {
  auto kafka = CreateSource(spec_.sources.at("clicks"), {&spec_, nullptr});
  ASSERT_TRUE(kafka.ok()) << kafka.status().ToString();
  EXPECT_EQ((*kafka)->kind(), "kafka");
  EXPECT_TRUE((*kafka)->live());
  auto table = CreateSource(spec_.sources.at("attrs"), {&spec_, nullptr});
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().message(),
            "source 'attrs': kind table is not read as events; its rows are loaded into the "
            "table store (tables/table_store.h)");
}

TEST_F(SourceRegistryTest, SourceMustBelongToTheSpec) {
  SourceSpec stray;
  stray.name = "stray";
  EXPECT_FALSE(CreateSource(stray, {&spec_, nullptr}).ok());
}

TEST(CommittedPositionTest, NeverRewinds) {
  CommittedPosition committed;
  EXPECT_TRUE(committed.Get().empty());
  committed.Advance({{0, 10}, {1, 5}});
  committed.Advance({{0, 7}, {2, 1}});
  EXPECT_EQ(committed.Get(), (SourcePosition{{0, 10}, {1, 5}, {2, 1}}));
}

}  // namespace
}  // namespace freshet
