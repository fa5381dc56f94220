// Every native node documents itself: docs/nodes.md is generated from these contracts.
#include <gtest/gtest.h>

#include "node_test_util.hpp"

namespace rm::nodes {
namespace {

const char* const kNodeTypes[] = {"PassThrough", "AudioChunker", "AudioResample",  "AudioBufferAccumulator",
                                  "WebRtcVAD",   "TextCleanup",  "OutputCollector"};

TEST(NodeContracts, all_basic_nodes_are_registered) {
  for (const char* type : kNodeTypes)
    EXPECT_NE(runtime::NodeRegistry::instance().find(type), nullptr) << type;
}

TEST(NodeContracts, every_basic_contract_has_a_description_and_described_params_with_valid_defaults) {
  for (const char* type : kNodeTypes) {
    const auto* reg = runtime::NodeRegistry::instance().find(type);
    ASSERT_NE(reg, nullptr) << type;
    const auto& c = reg->contract;
    SCOPED_TRACE(c.node_type);
    EXPECT_GT(c.description.size(), 40u);
    EXPECT_EQ(c.description.back(), '.');
    for (const auto& p : c.params) {
      SCOPED_TRACE(p.name);
      EXPECT_GT(p.description.size(), 15u);
      EXPECT_EQ(p.description.back(), '.');
      EXPECT_FALSE(p.required());
    }
    // Defaults alone validate and build a working node.
    EXPECT_EQ(test::make_error(c.node_type, "{}"), "");
  }
}

}  // namespace
}  // namespace rm::nodes
