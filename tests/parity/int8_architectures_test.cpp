// Every architecture with int8 linear layers against the same model in fp32 (the tiny random
// models of tests/data/models, whose transformers parity the other tests hold): BERT, DistilBERT,
// ModernBERT (gated MLP, rotary, sliding windows) and XLM-RoBERTa (positions after the padding id)
// run through the int8 path, and each token's last hidden state stays close to fp32's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "models/registry.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

std::vector<std::filesystem::path> encoder_models() {
  std::vector<std::filesystem::path> dirs;
  for (const auto& entry : std::filesystem::directory_iterator(test::data_dir() / "models")) {
    const std::string name = entry.path().filename().string();
    const bool bare = name.find("cls") == std::string::npos &&
                      name.find("chonky") == std::string::npos &&
                      name.find("rerank") == std::string::npos;
    // Only references of raw encoder outputs ("cases"; a sentence-transformers folder's are
    // pooled embeddings).
    if (!bare || !std::filesystem::exists(entry.path() / "reference.json")) continue;
    std::ifstream in(entry.path() / "reference.json");
    if (nlohmann::json::parse(in).contains("cases")) dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

// The reference cases' token ids, as one ragged batch.
struct Batch {
  std::vector<int32_t> ids;
  std::vector<int32_t> cu_seqlens = {0};
};

Batch read_batch(const std::filesystem::path& dir) {
  std::ifstream in(dir / "reference.json");
  const nlohmann::json ref = nlohmann::json::parse(in);
  Batch batch;
  for (const auto& c : ref.at("cases")) {
    const auto ids = c.at("input_ids").get<std::vector<int32_t>>();
    batch.ids.insert(batch.ids.end(), ids.begin(), ids.end());
    batch.cu_seqlens.push_back(static_cast<int32_t>(batch.ids.size()));
  }
  return batch;
}

class Int8Architectures : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(Int8Architectures, EveryTokenStaysCloseToFp32) {
  const auto fp32 = load_encoder(GetParam(), cpu_backend());
  const auto int8 = load_encoder(GetParam(), cpu_backend(LinearPrecision::int8));
  const Batch batch = read_batch(GetParam());
  const RaggedBatch ragged{batch.ids, {}, batch.cu_seqlens};
  const EncoderOutput exact = fp32->forward(ragged);
  const EncoderOutput quantized = int8->forward(ragged);
  const auto h = static_cast<size_t>(fp32->hidden_size());
  double worst = 1.0;
  for (size_t t = 0; t < batch.ids.size(); ++t) {
    const std::span<const float> a(exact.hidden.data() + t * h, h);
    const std::span<const float> b(quantized.hidden.data() + t * h, h);
    worst = std::min(worst, test::cosine(a, b));
  }
  // Measured per token (not pooled): BERT and DistilBERT 0.998–0.9995, ModernBERT 0.988–0.996.
  EXPECT_GE(worst, 0.98);
  EXPECT_GT(test::max_abs_diff(exact.hidden, quantized.hidden), 0.0f);  // really quantized
  EXPECT_LT(int8->weight_bytes(), fp32->weight_bytes());
  std::printf("%s: min cosine per token %.5f\n", GetParam().filename().c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(TinyModels, Int8Architectures, ::testing::ValuesIn(encoder_models()),
                         test::folder_test_name<testing::TestParamInfo<std::filesystem::path>>);

}  // namespace
}  // namespace hades
