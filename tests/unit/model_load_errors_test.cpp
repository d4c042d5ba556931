// Bad model folders through the whole loading path (EmbeddingModel::load): each gives an Error
// whose code is stable and whose message names the file and the problem; nothing crashes.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "hades/error.hpp"
#include "io/safetensors.hpp"
#include "models/embedding_model.hpp"
#include "support/model_folder.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;

using test::expect_load_error;
using test::ModelFolder;

TEST(ModelLoadErrors, TheIntactFolderLoads) {
  const ModelFolder folder;
  const auto model = EmbeddingModel::load(folder.path());
  EXPECT_EQ(model->dimension(), 32);
  // The tokenizer (30,522 tokens) outgrows this model's 100-row embedding table: ids past it are
  // an input error naming the id, not a read out of bounds.
  const std::vector<std::string> texts = {"hello"};
  try {
    model->embed(texts);
    FAIL() << "ids outside the embedding table were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input_invalid);
    EXPECT_NE(std::string(e.what()).find("101"), std::string::npos) << e.what();
  }
}

TEST(ModelLoadErrors, TruncatedWeights) {
  const ModelFolder folder;
  const std::string bytes = folder.read("model.safetensors");
  folder.write("model.safetensors", bytes.substr(0, bytes.size() - 100));
  expect_load_error(folder, ErrorCode::invalid_model, {"model.safetensors"});
}

TEST(ModelLoadErrors, OversizedHeader) {
  const ModelFolder folder;
  std::string bytes = folder.read("model.safetensors");
  const uint64_t huge = 200'000'000;
  std::memcpy(bytes.data(), &huge, sizeof huge);
  folder.write("model.safetensors", bytes);
  expect_load_error(folder, ErrorCode::invalid_model, {"model.safetensors", "header"});
}

TEST(ModelLoadErrors, OverlappingOffsets) {
  const ModelFolder folder;
  // Rewrite the header so that the second tensor starts inside the first.
  std::string bytes = folder.read("model.safetensors");
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), sizeof header_length);
  nlohmann::ordered_json header = nlohmann::ordered_json::parse(bytes.substr(8, header_length));
  std::vector<std::pair<uint64_t, std::string>> by_offset;
  for (auto& [name, entry] : header.items()) {
    if (name != "__metadata__") by_offset.emplace_back(entry["data_offsets"][0], name);
  }
  std::sort(by_offset.begin(), by_offset.end());
  auto& second = header[by_offset[1].second]["data_offsets"];
  second[0] = second[0].get<uint64_t>() - 4;
  second[1] = second[1].get<uint64_t>() - 4;
  std::string text = header.dump();
  text.resize(header_length, ' ');
  ASSERT_EQ(text.size(), header_length);
  folder.write("model.safetensors", bytes.substr(0, 8) + text + bytes.substr(8 + header_length));
  expect_load_error(folder, ErrorCode::invalid_model, {"model.safetensors"});
}

TEST(ModelLoadErrors, WrongDtype) {
  const ModelFolder folder;
  const std::vector<int64_t> values(100 * 32, 1);
  const std::vector<int64_t> shape = {100, 32};
  SafetensorsFile original = SafetensorsFile::open(folder.path() / "model.safetensors");
  std::vector<TensorEntry> entries(original.tensors().begin(), original.tensors().end());
  for (TensorEntry& entry : entries) {
    if (entry.name == "embeddings.word_embeddings.weight") {
      entry.dtype = DType::i64;
      entry.bytes = std::as_bytes(std::span(values));
    }
  }
  const auto encoded = encode_safetensors(entries);
  folder.write("model.safetensors",
               std::string(reinterpret_cast<const char*>(encoded.data()), encoded.size()));
  expect_load_error(folder, ErrorCode::invalid_model,
                    {"model.safetensors", "embeddings.word_embeddings.weight", "I64"});
}

TEST(ModelLoadErrors, WrongShapeForTheConfig) {
  const ModelFolder folder;
  folder.edit_json("config.json", [](nlohmann::ordered_json& c) { c["intermediate_size"] = 128; });
  expect_load_error(folder, ErrorCode::invalid_model, {"model.safetensors", "intermediate.dense"});
}

TEST(ModelLoadErrors, BrokenConfigJson) {
  const ModelFolder folder;
  folder.write("config.json", "{\"model_type\": \"bert\", \"hidden_size\": ");
  expect_load_error(folder, ErrorCode::invalid_model, {"config.json"});
}

TEST(ModelLoadErrors, ConfigFieldOfTheWrongType) {
  const ModelFolder folder;
  folder.edit_json("config.json", [](nlohmann::ordered_json& c) { c["hidden_size"] = "abc"; });
  expect_load_error(folder, ErrorCode::invalid_model, {"config.json", "hidden_size"});
}

TEST(ModelLoadErrors, ConfigSizesThatWouldNeedTerabytes) {
  const ModelFolder folder;
  folder.edit_json("config.json",
                   [](nlohmann::ordered_json& c) { c["vocab_size"] = 4'000'000'000'000LL; });
  expect_load_error(folder, ErrorCode::invalid_model, {"config.json"});
}

TEST(ModelLoadErrors, UnknownArchitecture) {
  const ModelFolder folder;
  folder.edit_json("config.json", [](nlohmann::ordered_json& c) { c["model_type"] = "llama"; });
  expect_load_error(folder, ErrorCode::unsupported, {"config.json", "llama", "bert"});
}

// XLM-RoBERTa's positions start at pad_token_id + 1: a padding id that leaves none, or is not an
// id at all, is refused. (The tiny BERT's weights serve as an XLM-R's: the same tensors.)
TEST(ModelLoadErrors, XlmRobertaPaddingIdThatLeavesNoPosition) {
  for (const int64_t pad : {63, 64, -1}) {
    SCOPED_TRACE(pad);
    const ModelFolder folder;
    folder.edit_json("config.json", [&](nlohmann::ordered_json& c) {
      c["model_type"] = "xlm-roberta";
      c["pad_token_id"] = pad;
    });
    expect_load_error(folder, ErrorCode::invalid_model, {"config.json", "pad_token_id"});
  }
  const ModelFolder folder;
  folder.edit_json("config.json", [](nlohmann::ordered_json& c) {
    c["model_type"] = "xlm-roberta";
    c["pad_token_id"] = 60;  // max_position_embeddings 64: three positions left
  });
  EXPECT_EQ(EmbeddingModel::load(folder.path())->dimension(), 32);
}

TEST(ModelLoadErrors, RemoteCode) {
  const ModelFolder folder;
  folder.edit_json("config.json", [](nlohmann::ordered_json& c) {
    c["auto_map"] = {{"AutoModel", "x.Model"}};
  });
  expect_load_error(folder, ErrorCode::unsupported, {"config.json", "remote code"});
}

TEST(ModelLoadErrors, BrokenTokenizerJson) {
  const ModelFolder folder;
  folder.write("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\"");
  expect_load_error(folder, ErrorCode::invalid_model, {"tokenizer.json"});
}

TEST(ModelLoadErrors, MissingFiles) {
  for (const std::string name : {"config.json", "tokenizer.json", "model.safetensors"}) {
    const ModelFolder folder;
    fs::remove(folder.path() / name);
    expect_load_error(folder, ErrorCode::not_found,
                      {name == "model.safetensors" ? "safetensors" : name});
  }
}

TEST(ModelLoadErrors, PickleWeightsAreRefused) {
  const ModelFolder folder;
  fs::remove(folder.path() / "model.safetensors");
  folder.write("pytorch_model.bin", "not really a pickle");
  expect_load_error(folder, ErrorCode::unsupported, {"pytorch_model.bin", "safetensors"});
}

TEST(ModelLoadErrors, MissingFolder) {
  try {
    EmbeddingModel::load("/nonexistent/hades/model");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/hades/model"), std::string::npos);
  }
}

}  // namespace
}  // namespace hades
