// Reading tokenizer.json fields with errors that name the file and the JSON path at fault, e.g.
// "tokenizer.json: normalizer.type: unknown normalizer 'Foo'".
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hades/error.hpp"

namespace hades::tok {

using Json = nlohmann::json;

// Where a JSON value sits: the source file's name and the dotted path inside it.
class JsonPath {
 public:
  JsonPath(std::string_view source, std::string path) : source_(source), path_(std::move(path)) {}

  JsonPath operator/(std::string_view key) const {
    return {source_, path_.empty() ? std::string(key) : path_ + "." + std::string(key)};
  }
  JsonPath operator[](size_t index) const {
    return {source_, path_ + "[" + std::to_string(index) + "]"};
  }

  [[noreturn]] void fail(std::string_view problem,
                         ErrorCode code = ErrorCode::invalid_model) const {
    std::string message = prefix();
    message += problem;
    throw Error(code, message);
  }

  // "source: path: ", how fail() starts its messages (for errors raised after loading).
  std::string prefix() const {
    std::string text(source_);
    text += ": ";
    if (!path_.empty()) text += path_ + ": ";
    return text;
  }

  std::string_view source() const { return source_; }

 private:
  std::string_view source_;
  std::string path_;
};

inline const char* json_type_name(const Json& value) {
  return value.type_name();
}

// The member `key` of object `obj`; fails when it is missing.
inline const Json& require(const Json& obj, const JsonPath& at, std::string_view key) {
  const auto it = obj.find(key);
  if (it == obj.end()) (at / key).fail("missing field");
  return *it;
}

inline const Json& require_object(const Json& value, const JsonPath& at) {
  if (!value.is_object()) at.fail(std::string("expected an object, found ") + value.type_name());
  return value;
}

inline const Json& require_array(const Json& value, const JsonPath& at) {
  if (!value.is_array()) at.fail(std::string("expected an array, found ") + value.type_name());
  return value;
}

inline bool as_bool(const Json& value, const JsonPath& at) {
  if (!value.is_boolean()) at.fail(std::string("expected a boolean, found ") + value.type_name());
  return value.get<bool>();
}

inline std::string as_string(const Json& value, const JsonPath& at) {
  if (!value.is_string()) at.fail(std::string("expected a string, found ") + value.type_name());
  return value.get<std::string>();
}

inline uint64_t as_uint(const Json& value, const JsonPath& at, uint64_t max = UINT32_MAX) {
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0)) {
    at.fail(std::string("expected a non-negative integer, found ") + value.type_name());
  }
  const auto number = value.get<uint64_t>();
  if (number > max) at.fail("value " + std::to_string(number) + " is too large");
  return number;
}

inline bool get_bool(const Json& obj, const JsonPath& at, std::string_view key) {
  return as_bool(require(obj, at, key), at / key);
}

inline std::string get_string(const Json& obj, const JsonPath& at, std::string_view key) {
  return as_string(require(obj, at, key), at / key);
}

inline uint64_t get_uint(const Json& obj, const JsonPath& at, std::string_view key,
                         uint64_t max = UINT32_MAX) {
  return as_uint(require(obj, at, key), at / key, max);
}

// A member that may be missing or null.
inline const Json* find_optional(const Json& obj, std::string_view key) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

inline std::string get_type(const Json& obj, const JsonPath& at) {
  require_object(obj, at);
  return get_string(obj, at, "type");
}

}  // namespace hades::tok
