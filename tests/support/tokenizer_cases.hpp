// What the two tokenizer parity tests share: reading the fixtures' JSON, the truncation and padding
// options a case records, and outcomes compared as the fixtures record Hugging Face's errors.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "hades/error.hpp"
#include "tokenizer/tokenizer.hpp"

namespace hades::test {

using Json = nlohmann::json;

inline Json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return Json::parse(in);
}

inline std::optional<hades::TruncationOptions> truncation_from(const Json& value) {
  if (value.is_null()) return std::nullopt;
  hades::TruncationOptions options;
  options.max_length = value["max_length"].get<size_t>();
  options.stride = value["stride"].get<size_t>();
  const std::string strategy = value["strategy"];
  options.strategy = strategy == "only_first"    ? hades::TruncationStrategy::only_first
                     : strategy == "only_second" ? hades::TruncationStrategy::only_second
                                                 : hades::TruncationStrategy::longest_first;
  options.direction = value["direction"] == "left" ? hades::TruncationDirection::left
                                                   : hades::TruncationDirection::right;
  return options;
}

inline std::optional<hades::PaddingOptions> padding_from(const Json& value) {
  if (value.is_null()) return std::nullopt;
  hades::PaddingOptions options;
  if (value["strategy"] == "fixed") {
    options.strategy = hades::PaddingStrategy::fixed;
    options.fixed_length = value["length"].get<size_t>();
  }
  if (value.contains("pad_to_multiple_of")) {
    options.pad_to_multiple_of = value["pad_to_multiple_of"].get<size_t>();
  }
  options.direction =
      value["direction"] == "left" ? hades::PaddingDirection::left : hades::PaddingDirection::right;
  options.pad_id = value["pad_id"];
  options.pad_type_id = value["pad_type_id"];
  options.pad_token = value["pad_token"];
  return options;
}

// Runs `fn`, turning a hades::Error into {"error": ...} as the fixtures record HF's errors.
template <typename Fn>
Json outcome(Fn fn) {
  try {
    return fn();
  } catch (const hades::Error& e) {
    return Json{{"error", e.what()}};
  }
}

// Equal when both succeeded with the same result, or both failed.
inline Json comparable(const Json& value) {
  if (value.is_object() && value.contains("error")) return Json{{"error", true}};
  return value;
}

}  // namespace hades::test
