// The texts of tests/data/minilm/reference.json and sentence-transformers' float32 embeddings of
// them (all-MiniLM-L6-v2, normalised mean pooling), read once per test process.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/paths.hpp"

namespace hades::test {

struct MiniLmReference {
  std::vector<std::string> texts;
  std::vector<std::vector<float>> embeddings;
};

inline const MiniLmReference& minilm_reference() {
  static const MiniLmReference ref = [] {
    std::ifstream in(data_dir() / "minilm" / "reference.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    return MiniLmReference{j.at("texts").get<std::vector<std::string>>(),
                           j.at("embeddings").get<std::vector<std::vector<float>>>()};
  }();
  return ref;
}

}  // namespace hades::test
