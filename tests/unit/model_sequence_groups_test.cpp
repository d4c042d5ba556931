// group_sequences: the runs of whole sequences an encoder's layers take one at a time.
#include <gtest/gtest.h>

#include <vector>

#include "models/encoder.hpp"

namespace hades {
namespace {

std::vector<std::vector<int32_t>> cuts(const std::vector<int32_t>& cu_seqlens, int64_t max) {
  std::vector<std::vector<int32_t>> out;
  int64_t next_token = 0;
  for (const SequenceGroup& g : group_sequences(cu_seqlens, max)) {
    EXPECT_EQ(g.first_token, next_token) << "groups must follow each other";
    EXPECT_EQ(g.cu_seqlens.front(), 0);
    EXPECT_EQ(g.cu_seqlens.back(), g.tokens);
    next_token += g.tokens;
    out.push_back(g.cu_seqlens);
  }
  EXPECT_EQ(next_token, cu_seqlens.empty() ? 0 : cu_seqlens.back());
  return out;
}

TEST(SequenceGroups, WholeSequencesUpToTheBoundInOrder) {
  // Lengths 3, 4, 2, 6, 1.
  const std::vector<int32_t> cu = {0, 3, 7, 9, 15, 16};
  EXPECT_EQ(cuts(cu, 7), (std::vector<std::vector<int32_t>>{{0, 3, 7}, {0, 2}, {0, 6, 7}}));
  EXPECT_EQ(cuts(cu, 16), (std::vector<std::vector<int32_t>>{{0, 3, 7, 9, 15, 16}}));
  EXPECT_EQ(cuts(cu, 1000), cuts(cu, 16));
}

TEST(SequenceGroups, ASequenceLongerThanTheBoundIsAGroupOfItsOwn) {
  const std::vector<int32_t> cu = {0, 2, 12, 13};  // lengths 2, 10, 1
  EXPECT_EQ(cuts(cu, 4), (std::vector<std::vector<int32_t>>{{0, 2}, {0, 10}, {0, 1}}));
  const std::vector<SequenceGroup> groups = group_sequences(cu, 4);
  EXPECT_EQ(largest_group(groups), 10);
  EXPECT_EQ(groups[1].first_token, 2);
}

TEST(SequenceGroups, EmptyBatchesAndSequences) {
  EXPECT_TRUE(group_sequences(std::vector<int32_t>{0}).empty());
  EXPECT_TRUE(group_sequences(std::vector<int32_t>{}).empty());
  EXPECT_EQ(largest_group({}), 0);
  // Empty sequences ride along with their neighbours.
  EXPECT_EQ(cuts({0, 0, 2, 2}, 2), (std::vector<std::vector<int32_t>>{{0, 0, 2, 2}}));
}

}  // namespace
}  // namespace hades
