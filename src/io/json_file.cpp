#include "io/json_file.hpp"

#include <algorithm>
#include <limits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "hades/error.hpp"
#include "io/mapped_file.hpp"

namespace hades {

using nlohmann::json;

namespace {

// nlohmann's messages quote the input around the error ("last read: '...'"), which for hostile
// bytes can be long or not UTF-8; keep them short and printable ASCII.
std::string printable_ascii(std::string_view text, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text.substr(0, max_bytes)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

// Enforces the depth limit, and the duplicate-key policy, while nlohmann builds the value.
class ParseGuard {
 public:
  ParseGuard(const std::string& source_name, DuplicateKeys duplicates)
      : source_name_(source_name), duplicates_(duplicates) {}

  bool on_event(int depth, json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) {
          throw Error(ErrorCode::invalid_model, source_name_ +
                                                    ": invalid JSON: nested deeper than " +
                                                    std::to_string(kMaxJsonDepth) + " levels");
        }
        if (event == json::parse_event_t::object_start && rejects_duplicates()) {
          open_objects_.emplace_back();
        }
        break;
      case json::parse_event_t::key:
        if (rejects_duplicates() &&
            !open_objects_.back().insert(parsed.get<std::string>()).second) {
          throw Error(ErrorCode::invalid_model, source_name_ + ": invalid JSON: duplicate key " +
                                                    quote_for_message(parsed.get<std::string>()) +
                                                    " in an object");
        }
        break;
      case json::parse_event_t::object_end:
        if (rejects_duplicates()) open_objects_.pop_back();
        break;
      default: break;
    }
    return true;
  }

 private:
  bool rejects_duplicates() const { return duplicates_ == DuplicateKeys::reject; }

  const std::string& source_name_;
  DuplicateKeys duplicates_;
  std::vector<std::unordered_set<std::string>> open_objects_;  // keys seen, per open object
};

// The value as an int64 when it is a JSON integer in range; nlohmann stores non-negative literals
// as unsigned and negative ones as signed, so both are checked.
std::optional<std::int64_t> as_int64(const json& value) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (value.is_number_unsigned()) {
    const auto unsigned_value = value.get<std::uint64_t>();
    if (unsigned_value > kMax) return std::nullopt;
    return static_cast<std::int64_t>(unsigned_value);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return std::nullopt;
}

}  // namespace

json parse_json_text(std::string_view text, const std::string& source_name,
                     DuplicateKeys duplicates) {
  // nlohmann stops at a NUL byte as if the input ended there, so "{}\0<anything>" would parse as
  // {}. Valid JSON never holds a raw NUL (control characters in strings must be escaped).
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    throw Error(ErrorCode::invalid_model,
                source_name + ": invalid JSON: NUL character at byte " + std::to_string(nul));
  }
  ParseGuard guard(source_name, duplicates);
  const json::parser_callback_t callback = [&guard](int depth, json::parse_event_t event,
                                                    json& parsed) {
    return guard.on_event(depth, event, parsed);
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    std::string_view detail = e.what();
    if (const auto bracket = detail.find("] "); bracket != std::string_view::npos) {
      detail.remove_prefix(bracket + 2);
    }
    throw Error(ErrorCode::invalid_model, source_name +
                                              ": invalid JSON: " + printable_ascii(detail, 300) +
                                              " (byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception& e) {
    throw Error(ErrorCode::invalid_model,
                source_name + ": invalid JSON: " + printable_ascii(e.what(), 300));
  }
}

json read_json_file(const std::filesystem::path& path, DuplicateKeys duplicates) {
  const std::string text = read_file_text(path, kMaxJsonFileBytes);
  return parse_json_text(text, path.string(), duplicates);
}

std::string describe_json_value(const json& value) {
  switch (value.type()) {
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: {
      // ensure_ascii escapes everything outside ASCII, so the cut cannot split a character.
      const std::string dumped = value.dump(-1, ' ', true);
      return dumped.size() <= 80 ? dumped : dumped.substr(0, 76) + "...\"";
    }
    default: return value.dump(-1, ' ', true);
  }
}

std::string quote_for_message(std::string_view text, std::size_t max_bytes) {
  std::size_t cut = std::min(text.size(), max_bytes);
  // Step back over UTF-8 continuation bytes (10xxxxxx) so that a character is not split.
  while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) {
    --cut;
  }
  // Control characters are escaped: a NUL would end what() early, a newline would split a log
  // line. Built with append: GCC 12's -Wrestrict misfires on "'" + std::string(...) here.
  std::string quoted = "'";
  quoted.reserve(cut + 32);
  for (const char c : text.substr(0, cut)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      quoted.append(printable_ascii(std::string_view(&c, 1), 1));
    } else {
      quoted.push_back(c);
    }
  }
  if (cut == text.size()) return quoted.append(1, '\'');
  return quoted.append("...' (").append(std::to_string(text.size())).append(" bytes)");
}

JsonFields::JsonFields(const nlohmann::json& object, std::string source, std::string key_prefix)
    : object_(&object), source_(std::move(source)), key_prefix_(std::move(key_prefix)) {
  if (!object.is_object()) {
    const std::string where = key_prefix_.empty() ? "" : " " + quote_for_message(key_prefix_);
    throw Error(ErrorCode::invalid_model, source_ + ":" + where + " must be a JSON object, got " +
                                              describe_json_value(object));
  }
}

const nlohmann::json* JsonFields::find(std::string_view key) const {
  const auto it = object_->find(key);
  if (it == object_->end() || it->is_null()) return nullptr;
  return &*it;
}

std::string JsonFields::key_path(std::string_view key) const {
  return key_prefix_.empty() ? std::string(key) : key_prefix_ + "." + std::string(key);
}

void JsonFields::fail(std::string_view key, std::string_view problem) const {
  throw Error(ErrorCode::invalid_model,
              source_ + ": " + quote_for_message(key_path(key)) + " " + std::string(problem));
}

const nlohmann::json& JsonFields::require(std::string_view key, std::string_view expected) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) {
    const bool present = object_->contains(key);
    fail(key, present ? "must be " + std::string(expected) + ", got null"
                      : "is required (" + std::string(expected) + ") but missing");
  }
  return *value;
}

std::optional<std::string> JsonFields::find_string(std::string_view key) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) fail(key, "must be a string, got " + describe_json_value(*value));
  return value->get<std::string>();
}

std::string JsonFields::get_string(std::string_view key) const {
  require(key, "a string");
  return *find_string(key);
}

std::optional<bool> JsonFields::find_bool(std::string_view key) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) fail(key, "must be true or false, got " + describe_json_value(*value));
  return value->get<bool>();
}

bool JsonFields::get_bool(std::string_view key) const {
  require(key, "true or false");
  return *find_bool(key);
}

std::optional<std::int64_t> JsonFields::find_int(std::string_view key) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return std::nullopt;
  const std::optional<std::int64_t> result = as_int64(*value);
  if (!result) fail(key, "must be an integer, got " + describe_json_value(*value));
  return result;
}

std::int64_t JsonFields::get_int(std::string_view key) const {
  require(key, "an integer");
  return *find_int(key);
}

std::optional<std::int64_t> JsonFields::find_positive_int(std::string_view key) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return std::nullopt;
  const std::optional<std::int64_t> result = as_int64(*value);
  if (!result || *result <= 0) {
    fail(key, "must be a positive integer, got " + describe_json_value(*value));
  }
  return result;
}

std::int64_t JsonFields::get_positive_int(std::string_view key) const {
  require(key, "a positive integer");
  return *find_positive_int(key);
}

std::optional<std::int64_t> JsonFields::find_non_negative_int(std::string_view key) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return std::nullopt;
  const std::optional<std::int64_t> result = as_int64(*value);
  if (!result || *result < 0) {
    fail(key, "must be a non-negative integer, got " + describe_json_value(*value));
  }
  return result;
}

std::int64_t JsonFields::get_non_negative_int(std::string_view key) const {
  require(key, "a non-negative integer");
  return *find_non_negative_int(key);
}

std::optional<double> JsonFields::find_number(std::string_view key) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) fail(key, "must be a number, got " + describe_json_value(*value));
  return value->get<double>();
}

double JsonFields::get_number(std::string_view key) const {
  require(key, "a number");
  return *find_number(key);
}

std::optional<JsonFields> JsonFields::find_object(std::string_view key) const {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_object()) fail(key, "must be an object, got " + describe_json_value(*value));
  return JsonFields(*value, source_, key_path(key));
}

JsonFields JsonFields::get_object(std::string_view key) const {
  require(key, "an object");
  return *find_object(key);
}

void reject_remote_code(const json& config, const std::string& source_name) {
  if (config.is_object() && config.contains("auto_map")) {
    throw Error(
        ErrorCode::unsupported,
        source_name + ": the model requires remote code (auto_map), which hades never runs");
  }
}

}  // namespace hades
