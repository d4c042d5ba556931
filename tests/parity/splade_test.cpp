// SPLADE parity: sparse vectors of tiny random BertForMaskedLM, DistilBertForMaskedLM and
// XLMRobertaForMaskedLM folders saved by sentence-transformers 6 as SparseEncoders equal
// SparseEncoder.encode's (the same non-zero indices, values within 1e-4), and a batch equals its
// texts alone (tests/data/models/tiny-splade-*, made by tools/fixtures/gen_splade_fixtures.py).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "hades/error.hpp"
#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/expect_error.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

using test::max_abs_diff;

std::filesystem::path folder(const std::string& name) {
  return test::data_dir() / "models" / name;
}

nlohmann::json reference(const std::string& name) {
  std::ifstream in(folder(name) / "reference.json");
  return nlohmann::json::parse(in);
}

// Same indices, values within TOLERANCE.
void expect_same_vector(const SparseVector& got, const nlohmann::json& expected, float tolerance,
                        const std::string& what) {
  const auto indices = expected.at("indices").get<std::vector<int32_t>>();
  const auto values = expected.at("values").get<std::vector<float>>();
  EXPECT_EQ(got.indices, indices) << what;
  if (got.indices == indices) {
    EXPECT_LE(max_abs_diff(got.values, values), tolerance) << what;
  }
}

class SpladeParity : public testing::TestWithParam<std::string> {};

TEST_P(SpladeParity, LoadsAsASparseModel) {
  const nlohmann::json ref = reference(GetParam());
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder(GetParam()));
  EXPECT_TRUE(model->sparse());
  EXPECT_EQ(model->dimension(), ref.at("vocab_size").get<int64_t>());
  EXPECT_EQ(model->max_sequence_length(), ref.at("max_seq_length").get<int64_t>());
  const std::vector<std::string> texts = {"a text"};
  EXPECT_THROW(
      {
        try {
          model->embed(texts);
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::unsupported);
          EXPECT_NE(std::string(e.what()).find("sparse"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
}

TEST_P(SpladeParity, VectorsEqualSparseEncoderWithin1e4) {
  const nlohmann::json ref = reference(GetParam());
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder(GetParam()));
  const auto texts = ref.at("texts").get<std::vector<std::string>>();
  const auto ids = ref.at("input_ids").get<std::vector<std::vector<int32_t>>>();
  const auto encodings = model->tokenize(texts);
  ASSERT_EQ(encodings.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(encodings[i].ids, ids[i]) << "text " << i;
  const SparseEmbeddings batch = model->embed_sparse(texts);
  ASSERT_EQ(batch.vectors.size(), texts.size());
  EXPECT_EQ(batch.dimension, ref.at("vocab_size").get<int64_t>());
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string what = "text " + std::to_string(i);
    expect_same_vector(batch.vectors[i], ref.at("embeddings")[i], 1e-4f, what);
  }
}

// Alone, in the batch, and in batches cut by a small token budget into several passes, each
// text's vector is the same; so is a batch whose logits span several row blocks.
TEST_P(SpladeParity, BatchEqualsSingle) {
  const nlohmann::json ref = reference(GetParam());
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder(GetParam()));
  auto texts = ref.at("texts").get<std::vector<std::string>>();
  for (size_t i = 0, n = texts.size(); i < 4 * n; ++i) texts.push_back(texts[i % n]);
  const SparseEmbeddings batch = model->embed_sparse(texts);
  const SparseEmbeddings cut = model->embed_sparse(texts, {.max_batch_tokens = 40});
  ASSERT_EQ(batch.vectors.size(), texts.size());
  ASSERT_EQ(cut.vectors.size(), texts.size());
  EXPECT_EQ(batch.tokens, cut.tokens);
  for (size_t i = 0; i < texts.size(); ++i) {
    const SparseEmbeddings alone = model->embed_sparse(std::span(texts).subspan(i, 1));
    const nlohmann::json expected = {{"indices", alone.vectors[0].indices},
                                     {"values", alone.vectors[0].values}};
    expect_same_vector(batch.vectors[i], expected, 1e-6f, "batch, text " + std::to_string(i));
    expect_same_vector(cut.vectors[i], expected, 1e-6f, "cut, text " + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Folders, SpladeParity,
                         testing::Values("tiny-splade-bert-max", "tiny-splade-distilbert-sum",
                                         "tiny-splade-xlmr-max"));

TEST(SpladeParityOptions, MaxActiveDimsKeepsTheLargestValues) {
  const nlohmann::json ref = reference("tiny-splade-distilbert-sum");
  ASSERT_EQ(ref.at("max_active_dims").get<int64_t>(), 8);
  const std::unique_ptr<EmbeddingModel> model =
      EmbeddingModel::load(folder("tiny-splade-distilbert-sum"));
  const auto texts = ref.at("texts").get<std::vector<std::string>>();
  for (const SparseVector& v : model->embed_sparse(texts).vectors) {
    EXPECT_LE(v.indices.size(), 8U);
  }
}

TEST(SpladeParityOptions, DenseModelsGiveNoSparseVectors) {
  const std::unique_ptr<EmbeddingModel> model =
      EmbeddingModel::load(folder("tiny-st6-bert-mean-normalize"));
  EXPECT_FALSE(model->sparse());
  const std::vector<std::string> texts = {"a text"};
  try {
    model->embed_sparse(texts);
    ADD_FAILURE() << "a dense model gave sparse vectors";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
  }
}

// A SparseEncoder folder on an architecture without a masked-LM head in hades (ModernBERT) is
// refused naming the model_type, before any tokenizer is read.
TEST(SpladeParityOptions, ArchitecturesWithoutAMaskedLmHeadAreRefused) {
  const test::TempDir dir;
  const auto recursive = std::filesystem::copy_options::recursive;
  std::filesystem::copy(folder("tiny-modernbert-h24-a2-l5-w8"), dir.path(), recursive);
  const std::filesystem::path splade = folder("tiny-splade-bert-max");
  for (const char* name : {"modules.json", "sentence_bert_config.json"}) {
    std::filesystem::copy(splade / name, dir.path() / name);
  }
  std::filesystem::copy(splade / "1_SpladePooling", dir.path() / "1_SpladePooling", recursive);
  test::expect_error([&] { EmbeddingModel::load(dir.path()); }, ErrorCode::unsupported,
                     {"config.json", "no masked-LM head", "'modernbert'"});
}

}  // namespace
}  // namespace hades
