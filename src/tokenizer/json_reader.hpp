// tokenizer.json parsed in one pass into a Json tree, except the model's vocabulary object, which
// is set aside as a list of entries. A vocabulary has 30-250k entries, and as a tree object (a
// std::map: a node, a key comparison per level and a free for each entry) it was about half of a
// tokenizer's load time, for a table that is read once into the model's hash map.
#pragma once

#include <optional>
#include <string_view>

#include "tokenizer/json_util.hpp"
#include "tokenizer/model.hpp"

namespace hades::tok {

// NOLINTNEXTLINE(bugprone-exception-escape): nlohmann::json's destructor may allocate, in theory
struct TokenizerDocument {
  Json root;  // "model.vocab" is an empty object here when `vocab` holds it
  std::optional<VocabEntries> vocab;
};

// Throws invalid_model naming SOURCE when TEXT is not valid JSON, holds a NUL byte, or nests
// deeper than 256 levels (the loader walks nested components by recursion).
TokenizerDocument read_tokenizer_json(std::string_view text, std::string_view source);

}  // namespace hades::tok
