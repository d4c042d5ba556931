// NomicBert and GTE beyond the per-case parity of heads_test.cpp: the sentence-transformers 6
// folders (tests/data/models/tiny-st6-nomic with mean pooling, Normalize and nomic's
// "search_query: " / "search_document: " prompts; tiny-st6-gte with CLS pooling), texts up to and
// past max_seq_length (512 tokens), equal SentenceTransformer.encode within 1e-4, a batch equals
// each text alone; 8,192 tokens in a ragged batch equal transformers; int8 and bf16 linear layers
// stay close; hostile configs of both families fail naming the file and field; the published remote
// code's auto_map loads, any other stays refused. Fixtures:
// tools/fixtures/gen_rotary_bert_fixtures.py.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/runtime.hpp"
#include "hades/error.hpp"
#include "models/embedding_model.hpp"
#include "models/registry.hpp"
#include "support/compare.hpp"
#include "support/embedding_reference.hpp"
#include "support/expect_error.hpp"
#include "support/model_folder.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

using test::max_abs_diff;
using test::ModelFolder;

constexpr const char* kNomic = "tiny-nomic-h16-a2-l2-swiglu";
constexpr const char* kGte = "tiny-gte-h16-a2-l2-geglu";

std::filesystem::path st_folder(const std::string& family) {
  return test::data_dir() / "models" / ("tiny-st6-" + family);
}

nlohmann::json read_reference(const std::filesystem::path& folder) {
  std::ifstream in(folder / "reference.json");
  return nlohmann::json::parse(in);
}

class RotarySentenceTransformers : public ::testing::TestWithParam<std::string> {};

TEST_P(RotarySentenceTransformers, IdsAndEmbeddingsEqualSentenceTransformers) {
  const nlohmann::json reference = read_reference(st_folder(GetParam()));
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(st_folder(GetParam()));
  EXPECT_EQ(model->max_sequence_length(), reference.at("max_seq_length").get<int64_t>());
  EXPECT_TRUE(model->normalizes());
  const auto inputs = reference.at("texts").get<std::vector<std::string>>();
  const auto ids = reference.at("input_ids").get<std::vector<std::vector<int32_t>>>();
  const auto expected = reference.at("embeddings").get<std::vector<std::vector<float>>>();
  const auto encodings = model->tokenize(inputs);
  ASSERT_EQ(encodings.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(encodings[i].ids, ids[i]) << "text " << i;
  const Embeddings batch = model->embed(inputs);
  float worst = 0.0f;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    worst = std::max(worst, max_abs_diff(batch.row(row), expected[i]));
    EXPECT_LE(max_abs_diff(batch.row(row), expected[i]), 1e-4f) << "text " << i;
    const Embeddings alone = model->embed(std::span(inputs).subspan(i, 1));
    EXPECT_LE(max_abs_diff(batch.row(row), alone.row(0)), 1e-6f) << "text " << i;
  }
  std::printf("tiny-st6-%s: max abs diff to sentence-transformers %.3g\n", GetParam().c_str(),
              worst);
}

TEST_P(RotarySentenceTransformers, PromptsEqualSentenceTransformers) {
  const nlohmann::json reference = read_reference(st_folder(GetParam()));
  runtime::EngineConfig config;
  config.default_device = "cpu";
  runtime::Engine engine(config);
  runtime::EmbedRequest request{.model = st_folder(GetParam()).string(),
                                .inputs = reference.at("texts").get<std::vector<std::string>>()};
  test::expect_embedding_rows(engine.embed(request), reference, "embeddings");
  for (const char* prompt : {"query", "document"}) {
    const std::string key = std::string("embeddings_prompt_") + prompt;
    if (!reference.contains(key)) continue;
    request.prompt_name = prompt;
    test::expect_embedding_rows(engine.embed(request), reference, key.c_str());
  }
}

// The lowest cosine of PRECISION's embeddings to sentence-transformers' float32 ones, after
// checking that they differ from hades's own float32 embeddings (the precision was really used).
double worst_cosine(const std::string& family, LinearPrecision precision) {
  const nlohmann::json reference = read_reference(st_folder(family));
  const auto texts = reference.at("texts").get<std::vector<std::string>>();
  const auto expected = reference.at("embeddings").get<std::vector<std::vector<float>>>();
  const Embeddings got =
      EmbeddingModel::load(st_folder(family), {.precision = precision})->embed(texts);
  const Embeddings fp32 = EmbeddingModel::load(st_folder(family))->embed(texts);
  double worst = 1.0;
  float differs = 0.0F;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    worst = std::min(worst, test::cosine(got.row(row), expected[i]));
    differs = std::max(differs, max_abs_diff(got.row(row), fp32.row(row)));
  }
  EXPECT_GT(differs, 0.0F) << "the embeddings equal float32's bit for bit";
  return worst;
}

TEST_P(RotarySentenceTransformers, Int8EmbeddingsStayCloseToFloat32) {
  EXPECT_GE(worst_cosine(GetParam(), LinearPrecision::int8), 0.99);
}

TEST_P(RotarySentenceTransformers, Bf16EmbeddingsStayCloseToFloat32) {
  const std::string why = cpu_precision_unavailable(LinearPrecision::bf16);
  if (!why.empty()) GTEST_SKIP() << why;
  EXPECT_GE(worst_cosine(GetParam(), LinearPrecision::bf16), 0.999);
}

INSTANTIATE_TEST_SUITE_P(Families, RotarySentenceTransformers, ::testing::Values("nomic", "gte"));

// The long context: an 8,192-token sequence (max_position_embeddings) between two short ones in one
// ragged batch equals transformers' hidden states of it alone at the positions the reference
// keeps, and the short ones equal theirs.
class RotaryLongContext : public ::testing::TestWithParam<std::string> {};

TEST_P(RotaryLongContext, EightThousandTokensInARaggedBatchMatchTransformers) {
  const std::filesystem::path folder = test::data_dir() / "models" / GetParam();
  const nlohmann::json reference = read_reference(folder);
  const nlohmann::json& long_case = reference.at("long_case");
  const nlohmann::json& short_case = reference.at("cases").at(3);
  const auto long_ids = long_case.at("input_ids").get<std::vector<int32_t>>();
  const auto short_ids = short_case.at("input_ids").get<std::vector<int32_t>>();
  const auto encoder = load_encoder(folder, cpu_backend());
  ASSERT_EQ(encoder->max_sequence_length(), 8192);
  ASSERT_EQ(long_ids.size(), 8192U);
  std::vector<int32_t> ids = short_ids;
  ids.insert(ids.end(), long_ids.begin(), long_ids.end());
  ids.insert(ids.end(), short_ids.begin(), short_ids.end());
  const auto first = static_cast<int32_t>(short_ids.size());
  const auto last = static_cast<int32_t>(first + long_ids.size());
  const std::vector<int32_t> cu_seqlens = {0, first, last, static_cast<int32_t>(ids.size())};
  const EncoderOutput out = encoder->forward({.ids = ids, .cu_seqlens = cu_seqlens});
  const int64_t h = encoder->hidden_size();
  float worst = 0.0f;
  for (const auto& [position, row] : long_case.at("rows").items()) {
    const std::span<const float> got(out.hidden.data() + (first + std::stoll(position)) * h,
                                     static_cast<size_t>(h));
    const float diff = max_abs_diff(got, row.get<std::vector<float>>());
    worst = std::max(worst, diff);
    EXPECT_LE(diff, 1e-4f) << "token " << position;
  }
  std::vector<float> expected_short;
  for (const auto& row : short_case.at("last_hidden_state")) {
    const auto values = row.get<std::vector<float>>();
    expected_short.insert(expected_short.end(), values.begin(), values.end());
  }
  for (const int32_t start : {0, last}) {
    const std::span<const float> got(out.hidden.data() + start * h, expected_short.size());
    EXPECT_LE(max_abs_diff(got, expected_short), 1e-4f) << "short sequence at " << start;
  }
  std::printf("%s, 8192 tokens: max abs diff %.3g\n", GetParam().c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(Families, RotaryLongContext, ::testing::Values(kNomic, kGte));

// One broken config.json: the load fails with CODE, and the message names the file and FIELD.
struct HostileConfig {
  const char* fixture;
  const char* field;  // in the message
  std::function<void(nlohmann::ordered_json&)> edit;
  ErrorCode code = ErrorCode::invalid_model;
};

void expect_refused(const HostileConfig& c) {
  SCOPED_TRACE(std::string(c.fixture) + ": " + c.field);
  const ModelFolder folder = ModelFolder::of_fixture(c.fixture);
  folder.edit_json("config.json", c.edit);
  test::expect_error([&] { load_model_parts(folder.path(), cpu_backend()); }, c.code,
                     {"config.json", c.field});
}

TEST(RotaryBertHostileConfigs, FailNamingFileAndField) {
  using J = nlohmann::ordered_json;
  const std::vector<HostileConfig> cases = {
      {kNomic, "hidden_size", [](J& j) { j.erase("hidden_size"); }},
      {kNomic, "num_attention_heads", [](J& j) { j["num_attention_heads"] = "2"; }},
      {kNomic, "intermediate_size", [](J& j) { j["intermediate_size"] = 1LL << 40; }},
      {kNomic, "vocab_size", [](J& j) { j["vocab_size"] = -3; }},
      {kNomic, "hidden_size", [](J& j) { j["num_attention_heads"] = 3; }},
      {kNomic, "head_dim", [](J& j) { j["head_dim"] = 4; }},
      {kNomic, "layer_norm_eps", [](J& j) { j["layer_norm_eps"] = "small"; }},
      {kNomic, "rope_parameters.rope_type",
       [](J& j) { j["rope_parameters"]["rope_type"] = "dynamic"; }},
      {kNomic, "rope_theta", [](J& j) { j["rope_parameters"]["rope_theta"] = -1; }},
      {kNomic, "hidden_act", [](J& j) { j["hidden_act"] = "mish"; }},
      {kNomic, "type_vocab_size", [](J& j) { j["type_vocab_size"] = 1LL << 30; }},
      {kNomic, "rotary_scaling_factor", [](J& j) { j["rotary_scaling_factor"] = 2.0; }},
      {kNomic, "num_experts", [](J& j) { j["num_experts"] = 8; }},
      {kNomic, "prenorm", [](J& j) { j["prenorm"] = true; }},
      {kNomic, "rotary_emb_fraction", [](J& j) { j["rotary_emb_fraction"] = 0.5; }},
      {kGte, "num_hidden_layers", [](J& j) { j["num_hidden_layers"] = 2.5; }},
      {kGte, "max_position_embeddings", [](J& j) { j["max_position_embeddings"] = 0; }},
      {kGte, "rope_scaling.type",
       [](J& j) {
         j["rope_scaling"] = {{"type", "ntk"}, {"factor", 2.0}};
       }},
      {kGte, "logn_attention_scale", [](J& j) { j["logn_attention_scale"] = true; }},
      {kGte, "layer_norm_type", [](J& j) { j["layer_norm_type"] = "rms_norm"; }},
      {kGte, "model_type", [](J& j) { j["model_type"] = 7; }},
      // Sizes the weights do not have: refused by the tensor's name and shape.
      {kGte, "intermediate_size", [](J& j) { j["intermediate_size"] = 1LL << 30; }},
  };
  for (const HostileConfig& c : cases) expect_refused(c);
}

TEST(RotaryBertHostileConfigs, SizesTheWeightsDoNotHaveNameTheTensor) {
  const ModelFolder folder = ModelFolder::of_fixture(kNomic);
  folder.edit_json("config.json", [](nlohmann::ordered_json& j) { j["intermediate_size"] = 32; });
  test::expect_error([&] { load_model_parts(folder.path(), cpu_backend()); },
                     ErrorCode::invalid_model, {"encoder.layers.0.mlp.fc12.weight"});
}

TEST(RotaryBertRemoteCode, ThePublishedCodeLoadsAnyOtherIsRefused) {
  for (const char* fixture : {"tiny-nomic-h16-a2-l2-swiglu-hub", "tiny-gte-h16-a2-l2-geglu-hub"}) {
    EXPECT_NO_THROW(load_model_parts(test::data_dir() / "models" / fixture, cpu_backend()));
    const ModelFolder local = ModelFolder::of_fixture(fixture);
    // A copy of the code beside the weights may say anything: refused.
    local.edit_json("config.json", [](nlohmann::ordered_json& j) {
      j["auto_map"]["AutoModel"] = "modeling.NewModel";
    });
    test::expect_error([&] { load_model_parts(local.path(), cpu_backend()); },
                       ErrorCode::unsupported, {"config.json", "remote code"});
  }
  // The published code of one family under the other's model_type: refused.
  const ModelFolder swapped = ModelFolder::of_fixture("tiny-gte-h16-a2-l2-geglu-hub");
  swapped.edit_json("config.json", [](nlohmann::ordered_json& j) {
    j["auto_map"] = {{"AutoModel", "nomic-ai/nomic-bert-2048--modeling_hf_nomic_bert.X"}};
  });
  test::expect_error([&] { load_model_parts(swapped.path(), cpu_backend()); },
                     ErrorCode::unsupported, {"remote code"});
  // BERT has no remote code hades implements.
  const ModelFolder bert;
  bert.edit_json("config.json", [](nlohmann::ordered_json& j) {
    j["auto_map"] = {{"AutoModel", "Alibaba-NLP/new-impl--modeling.NewModel"}};
  });
  test::expect_error([&] { load_model_parts(bert.path(), cpu_backend()); }, ErrorCode::unsupported,
                     {"remote code"});
}

TEST(RotaryBertModelType, ListsAsTheConfigSaysIt) {
  const auto type_of = [](const std::string& fixture) {
    return load_encoder(test::data_dir() / "models" / fixture, cpu_backend())->architecture();
  };
  EXPECT_EQ(type_of(kNomic), "nomic_bert");
  EXPECT_EQ(type_of(kGte), "gte");
  EXPECT_EQ(type_of("tiny-gte-h16-a2-l2-geglu-hub"), "new");
}

}  // namespace
}  // namespace hades
