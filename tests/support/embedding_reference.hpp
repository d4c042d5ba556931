// Embeddings from the engine against a reference.json written by sentence-transformers (the
// fixture scripts under tools/fixtures): every row within 1e-4 of the reference's.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "engine/runtime.hpp"
#include "support/compare.hpp"

namespace hades::test {

// GOT's rows against REFERENCE[KEY], a list of rows.
inline void expect_embedding_rows(const runtime::EmbeddingResult& got,
                                  const nlohmann::json& reference, const char* key) {
  const auto expected = reference.at(key).get<std::vector<std::vector<float>>>();
  ASSERT_EQ(got.values.size(), expected.size() * expected[0].size()) << key;
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::span<const float> row(got.values.data() + i * expected[i].size(),
                                     expected[i].size());
    EXPECT_LE(max_abs_diff(row, expected[i]), 1e-4f) << key << ", text " << i;
  }
}

}  // namespace hades::test
