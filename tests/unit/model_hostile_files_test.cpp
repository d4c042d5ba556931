// Hostile model folders, crafted at run time (issue 7): lying safetensors header lengths, offsets
// past the end, shape × dtype overflow, missing and mis-shaped tensors, configs that would need
// terabytes, a catastrophic tokenizer regex, a vocabulary that is not UTF-8, symlink loops. Each
// fails with an Error whose code is stable and whose message names the file and the problem, and
// memory stays flat: nothing is allocated for sizes a file only claims. The gentler cases
// (truncated weights, overlapping offsets, wrong dtype, broken JSON) are in
// model_load_errors_test.cpp. XLM-RoBERTa's configs have their own cases.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hades/error.hpp"
#include "io/safetensors.hpp"
#include "models/embedding_model.hpp"
#include "support/model_folder.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;
using test::ModelFolder;
using test::set_header_length;

// The process's peak resident set since the last reset, in bytes (VmHWM of /proc/self/status).
uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// Resets the peak to the current resident set ("5" to clear_refs, Linux ≥ 4.0). False where the
// kernel refuses, and the tests then compare current sizes only.
bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

uint64_t current_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

constexpr uint64_t kFlatBytes = 8ull << 20;  // what "memory stays flat" allows: 8 MiB

// test::expect_load_error, and the load's peak memory stays within kFlatBytes of where it
// started.
void expect_bounded_load_error(const ModelFolder& folder, ErrorCode code,
                               const std::vector<std::string>& fragments) {
  // One valid load first: oneDNN's one-time set-up (JIT kernels, caches; far larger under ASan)
  // is not memory a hostile file makes the loader hold.
  static const bool warmed_up = [] {
    const ModelFolder valid;
    EmbeddingModel::load(valid.path());
    return true;
  }();
  (void)warmed_up;
  const bool peak_known = reset_peak_rss();
  const uint64_t before = current_rss_bytes();
  test::expect_load_error(folder, code, fragments);
  const uint64_t after = peak_known ? peak_rss_bytes() : current_rss_bytes();
  EXPECT_LT(after, before + kFlatBytes)
      << "the load's memory grew from " << before << " to " << after << " bytes";
}

TEST(ModelHostileFiles, HeaderLengthBeyondTheFile) {
  ModelFolder folder;
  set_header_length(folder, 50'000'000);  // under the 100 MB limit, far beyond the 98 KB file
  expect_bounded_load_error(folder, ErrorCode::invalid_model,
                            {"model.safetensors", "header length"});
}

TEST(ModelHostileFiles, HeaderLengthThatWrapsAround) {
  ModelFolder folder;
  set_header_length(folder, UINT64_MAX - 4);  // 8 + length overflows 64 bits
  expect_bounded_load_error(folder, ErrorCode::invalid_model,
                            {"model.safetensors", "header length"});
}

TEST(ModelHostileFiles, HeaderLengthShorterThanTheHeader) {
  ModelFolder folder;
  std::string bytes = folder.read("model.safetensors");
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), sizeof length);
  set_header_length(folder, length / 2);  // the JSON is cut in the middle
  expect_bounded_load_error(folder, ErrorCode::invalid_model, {"model.safetensors", "header"});
}

TEST(ModelHostileFiles, OffsetsPastTheEnd) {
  ModelFolder folder;
  folder.edit_header([](ordered_json& header) {
    for (auto& [name, entry] : header.items()) {
      if (name == "embeddings.word_embeddings.weight") {
        entry["data_offsets"][1] = entry["data_offsets"][1].get<uint64_t>() + (1ull << 40);
      }
    }
  });
  expect_bounded_load_error(folder, ErrorCode::invalid_model, {"model.safetensors"});
}

TEST(ModelHostileFiles, OffsetsOfOneTensorOverlappingAll) {
  ModelFolder folder;
  folder.edit_header([](ordered_json& header) {
    for (auto& [name, entry] : header.items()) {
      if (name != "__metadata__") entry["data_offsets"] = {0, 16};
    }
  });
  expect_bounded_load_error(folder, ErrorCode::invalid_model, {"model.safetensors"});
}

TEST(ModelHostileFiles, ShapeTimesDtypeOverflows) {
  ModelFolder folder;
  folder.edit_header([](ordered_json& header) {
    // 2^31 · 2^31 · 4 bytes: the product overflows 64 bits unless it is checked.
    header["embeddings.word_embeddings.weight"]["shape"] = {1ull << 31, 1ull << 31, 4};
  });
  expect_bounded_load_error(folder, ErrorCode::invalid_model,
                            {"model.safetensors", "embeddings.word_embeddings.weight"});
}

TEST(ModelHostileFiles, NegativeDimension) {
  ModelFolder folder;
  folder.edit_header([](ordered_json& header) {
    header["embeddings.word_embeddings.weight"]["shape"] = {-1, 32};
  });
  expect_bounded_load_error(folder, ErrorCode::invalid_model,
                            {"model.safetensors", "embeddings.word_embeddings.weight"});
}

TEST(ModelHostileFiles, TensorMissing) {
  ModelFolder folder;
  folder.edit_tensors([](std::vector<TensorEntry>& tensors) {
    std::erase_if(tensors, [](const TensorEntry& t) {
      return t.name == "encoder.layer.1.output.dense.weight";
    });
  });
  expect_bounded_load_error(folder, ErrorCode::invalid_model,
                            {"model.safetensors", "encoder.layer.1.output.dense.weight"});
}

TEST(ModelHostileFiles, TensorOfAnotherShapeThanTheConfigSays) {
  ModelFolder folder;
  folder.edit_tensors([](std::vector<TensorEntry>& tensors) {
    for (TensorEntry& t : tensors) {
      if (t.name == "embeddings.word_embeddings.weight") {
        t.shape = {50, 64};  // same bytes as [100, 32], another shape
      }
    }
  });
  expect_bounded_load_error(
      folder, ErrorCode::invalid_model,
      {"model.safetensors", "embeddings.word_embeddings.weight", "[100, 32]"});
}

TEST(ModelHostileFiles, ConfigSizesThatWouldNeedTerabytes) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, int64_t>>{
           {"num_hidden_layers", 1'000'000'000},
           {"intermediate_size", int64_t{1} << 40},
           {"max_position_embeddings", int64_t{1} << 40},
       }) {
    SCOPED_TRACE(key);
    ModelFolder folder;
    folder.edit_json("config.json", [&k = key, &v = value](ordered_json& c) { c[k] = v; });
    expect_bounded_load_error(folder, ErrorCode::invalid_model,
                              {"config.json", "'" + key + "'", std::to_string(value), "limit"});
  }
}

// Within the per-dimension limit, a size the weights do not have is caught by the first tensor
// it shapes, before anything of that size is allocated.
TEST(ModelHostileFiles, ConfigSizeTheWeightsDoNotHave) {
  ModelFolder folder;
  folder.edit_json("config.json", [](ordered_json& c) {
    c["hidden_size"] = int64_t{1} << 23;
    c["num_attention_heads"] = 1;
  });
  expect_bounded_load_error(
      folder, ErrorCode::invalid_model,
      {"model.safetensors", "embeddings.word_embeddings.weight", "[100, 8388608]"});
}

// XLM-RoBERTa's config.json (issue 25): every field its shapes need, sizes that would need
// terabytes, values of the wrong JSON type and padding ids that leave no position are each refused
// naming config.json and the field, before anything of a claimed size is allocated.
TEST(ModelHostileFiles, XlmRobertaConfigMissingFields) {
  EXPECT_EQ(EmbeddingModel::load(ModelFolder::xlm_roberta().path())->dimension(), 16);
  for (const std::string key : {"hidden_size", "num_attention_heads", "num_hidden_layers",
                                "intermediate_size", "vocab_size", "max_position_embeddings"}) {
    SCOPED_TRACE(key);
    const ModelFolder folder = ModelFolder::xlm_roberta();
    folder.edit_json("config.json", [&](ordered_json& c) { c.erase(key); });
    expect_bounded_load_error(folder, ErrorCode::invalid_model, {"config.json", key});
  }
}

TEST(ModelHostileFiles, XlmRobertaConfigSizesThatWouldNeedTerabytes) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, int64_t>>{
           {"num_hidden_layers", 1'000'000'000},
           {"intermediate_size", int64_t{1} << 40},
           {"max_position_embeddings", int64_t{1} << 40},
           {"vocab_size", 4'000'000'000'000},
           {"hidden_size", int64_t{1} << 40},
       }) {
    SCOPED_TRACE(key);
    const ModelFolder folder = ModelFolder::xlm_roberta();
    folder.edit_json("config.json", [&k = key, &v = value](ordered_json& c) { c[k] = v; });
    expect_bounded_load_error(folder, ErrorCode::invalid_model,
                              {"config.json", "'" + key + "'", std::to_string(value), "limit"});
  }
}

TEST(ModelHostileFiles, XlmRobertaConfigFieldsOfTheWrongType) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, ordered_json>>{
           {"hidden_size", "16"},
           {"num_hidden_layers", 2.5},
           {"vocab_size", ordered_json::array({3002})},
           {"pad_token_id", "<pad>"},
           {"layer_norm_eps", "1e-5"},
           {"max_position_embeddings", true},
           {"hidden_act", 3},
       }) {
    SCOPED_TRACE(key);
    const ModelFolder folder = ModelFolder::xlm_roberta();
    folder.edit_json("config.json", [&k = key, &v = value](ordered_json& c) { c[k] = v; });
    expect_bounded_load_error(folder, ErrorCode::invalid_model, {"config.json", key});
  }
}

// Positions start at pad_token_id + 1, so 34 positions hold nothing once pad_token_id is 33.
TEST(ModelHostileFiles, XlmRobertaPaddingIdThatLeavesNoPosition) {
  for (const int64_t pad : {int64_t{33}, int64_t{1} << 40, int64_t{-1}}) {
    SCOPED_TRACE(pad);
    const ModelFolder folder = ModelFolder::xlm_roberta();
    folder.edit_json("config.json", [&](ordered_json& c) { c["pad_token_id"] = pad; });
    expect_bounded_load_error(folder, ErrorCode::invalid_model, {"config.json", "pad_token_id"});
  }
}

TEST(ModelHostileFiles, VocabularyThatIsNotUtf8) {
  ModelFolder folder;
  std::string text = folder.read("tokenizer.json");
  const size_t at = text.find("\"[unused1]\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at + 1, 9, "\xff\xfe[bad]\xc0");  // raw bytes that no UTF-8 decoder accepts
  folder.write("tokenizer.json", text);
  expect_bounded_load_error(folder, ErrorCode::invalid_model, {"tokenizer.json", "UTF-8"});
}

TEST(ModelHostileFiles, VocabularyWithLoneSurrogateEscapes) {
  ModelFolder folder;
  std::string text = folder.read("tokenizer.json");
  const size_t at = text.find("\"[unused1]\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at + 1, 9, "\\udc80x");
  folder.write("tokenizer.json", text);
  expect_bounded_load_error(folder, ErrorCode::invalid_model, {"tokenizer.json"});
}

// A pattern that backtracks exponentially cannot be told from a good one when the file is read,
// so the limit applies when it runs: PCRE2's match limits stop it within a bounded time, and the
// request gets input_invalid naming the file and the pattern.
TEST(ModelHostileFiles, CatastrophicRegexIsStoppedWhenItRuns) {
  ModelFolder folder;
  folder.edit_json("tokenizer.json", [](ordered_json& t) {
    t["pre_tokenizer"] = {{"type", "Split"},
                          {"pattern", {{"Regex", "(a|aa)+$"}}},
                          {"behavior", "Isolated"},
                          {"invert", false}};
  });
  const auto model = EmbeddingModel::load(folder.path());
  const std::vector<std::string> texts = {std::string(4000, 'a') + "!"};
  const auto start = std::chrono::steady_clock::now();
  try {
    model->embed(texts);
    FAIL() << "the catastrophic pattern matched";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input_invalid) << e.what();
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(a|aa)+$"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ModelHostileFiles, FolderThatIsASymlinkLoop) {
  const test::TempDir dir;
  const fs::path loop = dir.path() / "loop";
  fs::create_symlink(loop, loop);
  try {
    EmbeddingModel::load(loop);
    FAIL() << "a symlink loop loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error) << e.what();
    EXPECT_NE(std::string(e.what()).find(loop.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("symbolic links"), std::string::npos) << e.what();
  }
}

TEST(ModelHostileFiles, FilesThatAreSymlinkLoops) {
  for (const std::string name :
       {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
    SCOPED_TRACE(name);
    ModelFolder folder;
    fs::remove(folder.path() / name);  // tokenizer_config.json is optional: absent here
    fs::create_symlink(folder.path() / name, folder.path() / name);
    try {
      EmbeddingModel::load(folder.path());
      ADD_FAILURE() << "a symlink loop loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

// Every hostile folder above, loaded again and again: what a failed load leaves behind (mappings,
// buffers, cached state) would add up.
TEST(ModelHostileFiles, RepeatedFailedLoadsKeepMemoryFlat) {
  ModelFolder folder;
  set_header_length(folder, 50'000'000);
  const auto fail_once = [&] { EXPECT_THROW(EmbeddingModel::load(folder.path()), Error); };
  for (int i = 0; i < 5; ++i) fail_once();  // warm the allocator
  const uint64_t before = current_rss_bytes();
  for (int i = 0; i < 200; ++i) fail_once();
  EXPECT_LT(current_rss_bytes(), before + kFlatBytes);
}

}  // namespace
}  // namespace hades
