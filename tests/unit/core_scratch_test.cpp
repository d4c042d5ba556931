// Scratch: forward passes' activation memory, kept in a process-wide pool between passes.
#include "core/scratch.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace hades {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

class ScratchTest : public ::testing::Test {
 protected:
  void SetUp() override { Scratch::release_kept(); }
};

TEST_F(ScratchTest, AReleasedBlockServesTheNextPassOfItsSizeOrLess) {
  float* first = nullptr;
  {
    const Scratch a(kMiB);  // 4 MiB
    first = a.data();
    EXPECT_GE(a.size(), kMiB);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.data()) % 64, 0u);
    a.data()[a.size() - 1] = 1.0f;  // all of it is usable
  }
  EXPECT_EQ(Scratch::kept_blocks(), 1u);
  {
    const Scratch smaller(kMiB / 2);
    EXPECT_EQ(smaller.data(), first) << "the kept block was not reused";
    const Scratch other(kMiB / 2);  // the kept block is in use: a new one
    EXPECT_NE(other.data(), first);
  }
  EXPECT_EQ(Scratch::kept_blocks(), 2u);
  Scratch::release_kept();
  EXPECT_EQ(Scratch::kept_blocks(), 0u);
  EXPECT_EQ(Scratch::kept_bytes(), 0u);
}

TEST_F(ScratchTest, ALargerPassReplacesTheKeptBlockInsteadOfKeepingBoth) {
  { const Scratch a(kMiB); }
  { const Scratch larger(3 * kMiB); }
  EXPECT_EQ(Scratch::kept_blocks(), 1u);
  EXPECT_EQ(Scratch::kept_bytes(), 3 * kMiB * sizeof(float));
}

TEST_F(ScratchTest, BlocksBeyondTheLimitsAreNotKept) {
  { const Scratch huge(Scratch::kLargestKeptBytes / sizeof(float) + 1); }
  EXPECT_EQ(Scratch::kept_blocks(), 0u) << "a block over kLargestKeptBytes was kept";

  std::vector<std::unique_ptr<Scratch>> many;
  for (std::size_t i = 0; i < Scratch::kKeptBlocks + 4; ++i) {
    many.push_back(std::make_unique<Scratch>(kMiB / 4));
  }
  many.clear();
  EXPECT_EQ(Scratch::kept_blocks(), Scratch::kKeptBlocks);
}

}  // namespace
}  // namespace hades
