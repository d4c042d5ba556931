// A tiny model folder crafted at run time for the model-file error tests (unit and e2e): a copy
// of a loadable fixture, edits that break it in one precise way each, and the load that must fail.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "hades/error.hpp"
#include "io/safetensors.hpp"
#include "models/embedding_model.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades::test {

// A loadable tiny BERT with a real tokenizer, in a fresh temporary folder.
class ModelFolder {
 public:
  ModelFolder()
      : ModelFolder(test::data_dir() / "models" / "tiny-bert-h32-a2-l2-gelu",
                    test::data_dir() / "tokenizer" / "bert-uncased" / "tokenizer.json") {}

  // A tiny XLM-RoBERTa (hidden 16, 34 positions, pad_token_id 1) with its Unigram tokenizer.
  static ModelFolder xlm_roberta() {
    const std::filesystem::path tiny = test::data_dir() / "models" / "tiny-st6-xlmr-e5";
    return ModelFolder(tiny, tiny / "tokenizer.json");
  }
  static ModelFolder roberta() {
    const std::filesystem::path tiny = test::data_dir() / "models" / "tiny-st6-roberta";
    return ModelFolder(tiny, tiny / "tokenizer.json");
  }

  // A tiny Qwen3 (hidden 32, 4 query heads over 2 key/value heads of 16) with its Qwen2-style
  // byte-level BPE tokenizer.
  static ModelFolder qwen3() {
    const std::filesystem::path tiny = test::data_dir() / "models" / "tiny-st6-qwen3";
    return ModelFolder(tiny, tiny / "tokenizer.json");
  }

  // A tiny model of tests/data/models by NAME, with the WordPiece tokenizer of its st6 siblings
  // (tiny-nomic-*, tiny-gte-*: 600 ids).
  static ModelFolder of_fixture(const std::string& name) {
    return ModelFolder(
        test::data_dir() / "models" / name,
        test::data_dir() / "models" / "tiny-bertcls-h32-a2-l2-rerank" / "tokenizer.json");
  }

  const std::filesystem::path& path() const { return dir_.path(); }
  void write(const std::string& name, const std::string& bytes) const {
    test::write_file(path() / name, bytes);
  }
  std::string read(const std::string& name) const { return test::read_file(path() / name); }

  // Rewrites model.safetensors' JSON header with EDIT, keeping the data section as it is.
  void edit_header(const std::function<void(nlohmann::ordered_json&)>& edit) const {
    const std::string bytes = read("model.safetensors");
    uint64_t length = 0;
    std::memcpy(&length, bytes.data(), sizeof length);
    nlohmann::ordered_json header = nlohmann::ordered_json::parse(bytes.substr(8, length));
    edit(header);
    const std::string text = header.dump();
    const uint64_t new_length = text.size();
    std::string prefix(8, '\0');
    std::memcpy(prefix.data(), &new_length, sizeof new_length);
    write("model.safetensors", prefix + text + bytes.substr(8 + length));
  }

  // Rewrites model.safetensors with EDIT applied to its tensors (re-encoded, so still valid).
  void edit_tensors(const std::function<void(std::vector<TensorEntry>&)>& edit) const {
    const std::string bytes = read("model.safetensors");
    const SafetensorsFile file = SafetensorsFile::parse(
        std::as_bytes(std::span(bytes.data(), bytes.size())), "model.safetensors");
    std::vector<TensorEntry> tensors = file.tensors();
    edit(tensors);
    const std::vector<std::byte> encoded = encode_safetensors(tensors);
    write("model.safetensors",
          std::string(reinterpret_cast<const char*>(encoded.data()), encoded.size()));
  }

  void edit_json(const std::string& name,
                 const std::function<void(nlohmann::ordered_json&)>& edit) const {
    nlohmann::ordered_json value = nlohmann::ordered_json::parse(read(name));
    edit(value);
    write(name, value.dump());
  }

 private:
  ModelFolder(const std::filesystem::path& fixture, const std::filesystem::path& tokenizer) {
    std::filesystem::copy_file(fixture / "config.json", path() / "config.json");
    std::filesystem::copy_file(fixture / "model.safetensors", path() / "model.safetensors");
    std::filesystem::copy_file(tokenizer, path() / "tokenizer.json");
  }

  test::TempDir dir_;
};

// Overwrites the 8-byte header length of model.safetensors.
inline void set_header_length(const ModelFolder& folder, uint64_t length) {
  std::string bytes = folder.read("model.safetensors");
  std::memcpy(bytes.data(), &length, sizeof length);
  folder.write("model.safetensors", bytes);
}

// Loads the folder as an embedding model and checks the error's code and that its message has
// every fragment.
inline void expect_load_error(const ModelFolder& folder, ErrorCode code,
                              const std::vector<std::string>& fragments) {
  try {
    EmbeddingModel::load(folder.path());
    ADD_FAILURE() << "the folder loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << "message lacks '" << fragment << "': " << e.what();
    }
  }
}

}  // namespace hades::test
