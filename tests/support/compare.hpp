// Comparisons of float vectors for parity tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

namespace hades::test {

inline float max_abs_diff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0.0f;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  }
  return worst;
}

// cos(a, b) in double.
inline double cosine(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double dot = 0.0, aa = 0.0, bb = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    dot += double{a[i]} * b[i];
    aa += double{a[i]} * a[i];
    bb += double{b[i]} * b[i];
  }
  return dot / std::sqrt(aa * bb);
}

// Appends copies of CASES (each with its token ids in `ids`) until they hold more than TOKENS
// tokens in all: a batch of them then runs as several groups of sequences (kMaxGroupTokens).
template <typename Case>
void repeat_cases(std::vector<Case>& cases, size_t tokens) {
  size_t held = 0;
  for (const Case& c : cases) held += c.ids.size();
  for (size_t original = cases.size(), c = 0; held <= tokens && original > 0; ++c) {
    cases.push_back(cases[c % original]);
    held += cases.back().ids.size();
  }
}

}  // namespace hades::test
