// JSON model files (config.json, tokenizer_config.json, modules.json, index files): reading them
// with bounded size and depth, and typed field access whose errors name the file and the key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hades {

// What to do with an object key that appears twice. Python's json module and serde_json's maps
// keep the last value, so configs written by the Python ecosystem are read that way; formats where
// two readers could disagree about what a file contains (safetensors headers, shard indexes)
// reject duplicates.
enum class DuplicateKeys { keep_last, reject };

// Files larger than this are refused before they are read (the largest tokenizer.json files on the
// hub are a few tens of MB).
inline constexpr std::uint64_t kMaxJsonFileBytes = 512ull << 20;

// Arrays and objects nested deeper than this are refused, so that no later recursive walk of the
// value (printing, copying, comparing) can exhaust the stack.
inline constexpr int kMaxJsonDepth = 256;

// Parses `text`. Throws Error invalid_model naming `source_name` and the line, column and byte of
// the problem (syntax error, invalid UTF-8, too deep, duplicate key when rejected).
nlohmann::json parse_json_text(std::string_view text, const std::string& source_name,
                               DuplicateKeys duplicates = DuplicateKeys::keep_last);

// Reads and parses a JSON file. Throws Error not_found when it does not exist, invalid_model when
// it is not valid JSON (see parse_json_text) or too large, io_error when it cannot be read.
nlohmann::json read_json_file(const std::filesystem::path& path,
                              DuplicateKeys duplicates = DuplicateKeys::keep_last);

// Typed, checked access to the fields of one JSON object. A view: the object must outlive it.
//
// get_* require the key; find_* return nullopt when the key is absent or null (Python configs
// write None for "not set"). Both throw Error invalid_model when the value has the wrong type,
// naming the file and the key: "config.json: 'hidden_size' must be a positive integer, got "abc"".
class JsonFields {
 public:
  // Throws invalid_model when `object` is not a JSON object. `key_prefix` names where a nested
  // object sits ("rope_scaling") so that its errors read "'rope_scaling.factor' must be ...".
  JsonFields(const nlohmann::json& object, std::string source, std::string key_prefix = "");

  const nlohmann::json& json() const noexcept { return *object_; }
  const std::string& source() const noexcept { return source_; }

  // The value of `key`, or nullptr when it is absent or null.
  const nlohmann::json* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  std::string get_string(std::string_view key) const;
  std::optional<std::string> find_string(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::optional<bool> find_bool(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;
  std::optional<std::int64_t> find_int(std::string_view key) const;
  std::int64_t get_positive_int(std::string_view key) const;
  std::optional<std::int64_t> find_positive_int(std::string_view key) const;
  std::int64_t get_non_negative_int(std::string_view key) const;
  std::optional<std::int64_t> find_non_negative_int(std::string_view key) const;
  double get_number(std::string_view key) const;
  std::optional<double> find_number(std::string_view key) const;
  JsonFields get_object(std::string_view key) const;
  std::optional<JsonFields> find_object(std::string_view key) const;

  // Throws invalid_model "<source>: '<prefix.key>' <problem>".
  [[noreturn]] void fail(std::string_view key, std::string_view problem) const;

 private:
  const nlohmann::json& require(std::string_view key, std::string_view expected) const;
  std::string key_path(std::string_view key) const;

  const nlohmann::json* object_;
  std::string source_;
  std::string key_prefix_;
};

// A short, printable, ASCII-only rendering of a JSON value for error messages: scalars as JSON
// (long strings cut), arrays and objects by kind only.
std::string describe_json_value(const nlohmann::json& value);

// `text` in single quotes, cut at a UTF-8 boundary when longer than `max_bytes`, for naming keys,
// tensors and files in error messages without quoting a hostile megabyte.
std::string quote_for_message(std::string_view text, std::size_t max_bytes = 200);

// Throws Error unsupported when `config` (read from `source_name`) asks for code from the model
// repository ("auto_map"), which hades never runs.
void reject_remote_code(const nlohmann::json& config, const std::string& source_name);

}  // namespace hades
