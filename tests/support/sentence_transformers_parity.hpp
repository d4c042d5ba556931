// The check shared by the parity tests of folders saved by sentence-transformers: the texts of a
// fixture's reference.json tokenize to its input_ids and embed, as one batch, within 1e-4 of
// SentenceTransformer.encode's embeddings, and each text alone equals its row of the batch.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "models/embedding_model.hpp"
#include "support/compare.hpp"

namespace hades::test {

inline void expect_encode_parity(const EmbeddingModel& model, const nlohmann::json& reference) {
  const auto inputs = reference.at("texts").get<std::vector<std::string>>();
  const auto ids = reference.at("input_ids").get<std::vector<std::vector<int32_t>>>();
  const auto expected = reference.at("embeddings").get<std::vector<std::vector<float>>>();
  const auto encodings = model.tokenize(inputs);
  ASSERT_EQ(encodings.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(encodings[i].ids, ids[i]) << "text " << i;
  const Embeddings batch = model.embed(inputs);
  ASSERT_EQ(batch.count(), static_cast<int64_t>(inputs.size()));
  float worst = 0.0f;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    const float diff = max_abs_diff(batch.row(row), expected[i]);
    EXPECT_LE(diff, 1e-4f) << "text " << i;
    worst = std::max(worst, diff);
    const Embeddings alone = model.embed(std::span(inputs).subspan(i, 1));
    EXPECT_LE(max_abs_diff(batch.row(row), alone.row(0)), 1e-6f) << "text " << i;
  }
  std::printf("%s: max abs diff %.3g\n", reference.value("model", "").c_str(), worst);
}

}  // namespace hades::test
