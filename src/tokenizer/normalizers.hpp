// Normalizers of tokenizer.json ("normalizer": {"type": ...}), each as in Hugging Face
// tokenizers/src/normalizers/.
#pragma once

#include <memory>

#include "tokenizer/json_util.hpp"
#include "tokenizer/normalized_string.hpp"

namespace hades::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& text) const = 0;
};

// Builds the normalizer described by `value` (a JSON object with a "type").
std::unique_ptr<Normalizer> parse_normalizer(const Json& value, const JsonPath& at);

}  // namespace hades::tok
