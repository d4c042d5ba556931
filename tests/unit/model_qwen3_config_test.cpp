// Qwen3's config.json and weights (issue 25): every field its shapes need, sizes that would need
// terabytes, key/value heads that do not divide the heads, values of the wrong JSON type, the
// variants hades does not run (sliding windows, scaled RoPE, other activations, heads) and
// tensors of the wrong dtype are each refused naming the file and the field or tensor.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "support/model_folder.hpp"

namespace hades {
namespace {

using nlohmann::ordered_json;
using test::expect_load_error;
using test::ModelFolder;

TEST(Qwen3Config, TheTinyFolderLoads) {
  EXPECT_EQ(EmbeddingModel::load(ModelFolder::qwen3().path())->dimension(), 32);
}

TEST(Qwen3Config, MissingFields) {
  for (const std::string key : {"hidden_size", "num_attention_heads", "num_hidden_layers",
                                "intermediate_size", "vocab_size"}) {
    SCOPED_TRACE(key);
    const ModelFolder folder = ModelFolder::qwen3();
    folder.edit_json("config.json", [&](ordered_json& c) { c.erase(key); });
    expect_load_error(folder, ErrorCode::invalid_model, {"config.json", key});
  }
}

TEST(Qwen3Config, SizesThatWouldNeedTerabytes) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, int64_t>>{
           {"num_hidden_layers", 1'000'000'000},
           {"intermediate_size", int64_t{1} << 40},
           {"max_position_embeddings", int64_t{1} << 40},
           {"vocab_size", 4'000'000'000'000},
           {"hidden_size", int64_t{1} << 40},
           {"head_dim", int64_t{1} << 40},
       }) {
    SCOPED_TRACE(key);
    const ModelFolder folder = ModelFolder::qwen3();
    folder.edit_json("config.json", [&k = key, &v = value](ordered_json& c) { c[k] = v; });
    expect_load_error(folder, ErrorCode::invalid_model,
                      {"config.json", "'" + key + "'", std::to_string(value), "limit"});
  }
}

TEST(Qwen3Config, KeyValueHeadsThatDoNotDivideTheHeads) {
  for (const int64_t kv_heads : {3, 8}) {
    SCOPED_TRACE(kv_heads);
    const ModelFolder folder = ModelFolder::qwen3();
    folder.edit_json("config.json", [&](ordered_json& c) { c["num_key_value_heads"] = kv_heads; });
    expect_load_error(folder, ErrorCode::invalid_model,
                      {"config.json", "num_key_value_heads", "divide"});
  }
}

TEST(Qwen3Config, FieldsOfTheWrongType) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, ordered_json>>{
           {"hidden_size", "32"},
           {"num_hidden_layers", 2.5},
           {"vocab_size", ordered_json::array({659})},
           {"num_key_value_heads", "2"},
           {"head_dim", true},
           {"rms_norm_eps", "1e-6"},
           {"attention_bias", "no"},
           {"hidden_act", 3},
           {"rope_theta", "1e6"},
           {"layer_types", "full_attention"},
       }) {
    SCOPED_TRACE(key);
    const ModelFolder folder = ModelFolder::qwen3();
    folder.edit_json("config.json", [&k = key, &v = value](ordered_json& c) {
      if (k == "rope_theta") c.erase("rope_parameters");
      c[k] = v;
    });
    expect_load_error(folder, ErrorCode::invalid_model, {"config.json", key});
  }
}

TEST(Qwen3Config, VariantsThatAreNotRunAreRefused) {
  const std::vector<std::pair<std::string, std::function<void(ordered_json&)>>> edits = {
      {"use_sliding_window", [](ordered_json& c) { c["use_sliding_window"] = true; }},
      {"layer_types", [](ordered_json& c) { c["layer_types"][1] = "sliding_attention"; }},
      {"rope_type", [](ordered_json& c) { c["rope_parameters"]["rope_type"] = "yarn"; }},
      {"hidden_act", [](ordered_json& c) { c["hidden_act"] = "gelu"; }},
      {"rms_norm_eps", [](ordered_json& c) { c["rms_norm_eps"] = -1.0; }},
      {"head_dim", [](ordered_json& c) { c["head_dim"] = 15; }},
  };
  for (const auto& [field, edit] : edits) {
    SCOPED_TRACE(field);
    const ModelFolder folder = ModelFolder::qwen3();
    folder.edit_json("config.json", edit);
    expect_load_error(folder, ErrorCode::invalid_model, {"config.json", field});
  }
}

TEST(Qwen3Config, ClassificationHeadsAreRefused) {
  const ModelFolder folder = ModelFolder::qwen3();
  folder.edit_json("config.json", [](ordered_json& c) {
    c["architectures"] = {"Qwen3ForSequenceClassification"};
    c["id2label"] = {{"0", "no"}, {"1", "yes"}};
  });
  expect_load_error(folder, ErrorCode::unsupported, {"config.json", "Qwen3Model"});
}

TEST(Qwen3Config, TensorsOfTheWrongDtypeOrShape) {
  const ModelFolder wrong_dtype = ModelFolder::qwen3();
  wrong_dtype.edit_header(
      [](ordered_json& header) { header["layers.1.self_attn.k_norm.weight"]["dtype"] = "I32"; });
  expect_load_error(wrong_dtype, ErrorCode::invalid_model,
                    {"model.safetensors", "layers.1.self_attn.k_norm.weight"});
  // head_dim 8 matches hidden_size / num_attention_heads, but not the tensors (16 wide).
  const ModelFolder wrong_head_dim = ModelFolder::qwen3();
  wrong_head_dim.edit_json("config.json", [](ordered_json& c) { c["head_dim"] = 8; });
  expect_load_error(wrong_head_dim, ErrorCode::invalid_model,
                    {"model.safetensors", "layers.0.self_attn.q_proj.weight"});
}

}  // namespace
}  // namespace hades
