// PagedArray: zero-filled storage of a model's large arrays, from the heap below 1 MiB and
// mapped from the kernel (2 MiB aligned) from there on.
#include "core/paged_array.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <utility>

namespace hades {
namespace {

std::uintptr_t address(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}

// Where storage is mapped (PagedMemory::kMappedFrom) outside AddressSanitizer builds, under which
// everything comes from the heap and kMappedFrom is SIZE_MAX.
constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(PagedArray, IsZeroFilledOnEitherSideOfTheMappingThreshold) {
  const std::size_t mapped_floats = kMiB / sizeof(float);
  for (std::size_t count : {std::size_t{1}, std::size_t{1000}, mapped_floats - 1, mapped_floats,
                            mapped_floats * 5 + 123}) {
    PagedArray<float> values(count);
    ASSERT_EQ(values.size(), count);
    EXPECT_TRUE(std::all_of(values.begin(), values.end(), [](float v) { return v == 0.0f; }))
        << count << " floats";
    values[count - 1] = 7.0f;  // the last element is writable
    EXPECT_EQ(values.span().back(), 7.0f);
  }
}

TEST(PagedArray, IsAlignedForTheBackend) {
  PagedArray<std::int8_t> small(100);
  EXPECT_EQ(address(small.data()) % 64, 0u);
  PagedArray<float> large(3 * kMiB);  // 12 MiB
  EXPECT_EQ(address(large.data()) % 64, 0u);
  if (PagedMemory(kMiB).mapped()) {
    EXPECT_EQ(address(large.data()) % (std::size_t{2} << 20), 0u);  // whole huge pages
  }
}

TEST(PagedArray, MovesWithoutCopying) {
  PagedArray<float> first(kMiB);
  first[5] = 1.5f;
  const float* storage = first.data();
  PagedArray<float> second(std::move(first));
  EXPECT_EQ(second.data(), storage);
  EXPECT_EQ(second[5], 1.5f);
  EXPECT_TRUE(first.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  PagedArray<float> third(10);
  third = std::move(second);  // frees third's own storage, takes second's
  EXPECT_EQ(third.data(), storage);
  EXPECT_EQ(third.size(), kMiB);
}

TEST(PagedArray, EmptyHoldsNothing) {
  PagedArray<float> none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.begin(), none.end());
  PagedArray<float> zero(0);
  EXPECT_TRUE(zero.span().empty());
}

TEST(PagedArray, AnImpossibleSizeIsBadAlloc) {
  EXPECT_THROW(PagedArray<float>(SIZE_MAX / 2), std::bad_alloc);
  EXPECT_THROW(PagedArray<std::int8_t>(SIZE_MAX - 4096), std::bad_alloc);
}

}  // namespace
}  // namespace hades
