#include "server/requests.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <utility>

#include "hades/error.hpp"
#include "server/json_text.hpp"
#include "server/request_fields.hpp"

namespace hades::server {

using nlohmann::json;

namespace fields {

[[noreturn]] void fail(const std::string& message) {
  throw Error(ErrorCode::invalid_argument, message);
}

std::string type_name(const json& value) {
  return value.type_name();  // "null", "object", "array", "string", "boolean", "number", ...
}

// Refuses fields the route does not know: a misspelt option ("normalise") would otherwise be
// silently ignored and change the result.
void check_known_fields(const json& body, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (const std::string_view name : known) list.append(list.empty() ? "" : ", ").append(name);
    std::string message = "unknown field '";
    message.append(key).append("' (this route takes: ").append(list).append(")");
    fail(message);
  }
}

// The field's value, or nullptr when it is absent or null.
const json* find_field(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string required_string(const json& body, const char* name) {
  const json* value = find_field(body, name);
  if (value == nullptr) fail(std::string("field '") + name + "' is required");
  if (!value->is_string()) {
    fail(std::string("field '") + name + "' must be a string, got " + type_name(*value));
  }
  std::string text = value->get<std::string>();
  if (text.empty()) fail(std::string("field '") + name + "' must not be empty");
  return text;
}

std::optional<bool> optional_bool(const json& body, const char* name) {
  const json* value = find_field(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) {
    fail(std::string("field '") + name + "' must be true or false, got " + type_name(*value));
  }
  return value->get<bool>();
}

std::optional<std::string> optional_string(const json& body, const char* name) {
  const json* value = find_field(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    fail(std::string("field '") + name + "' must be a string, got " + type_name(*value));
  }
  return value->get<std::string>();
}

// FIELD ("inputs", "pairs", "documents"): one string, or a non-empty array of strings of at most
// limits.max_inputs entries.
std::vector<std::string> read_texts(const json& body, const std::string& field,
                                    const RequestLimits& limits) {
  const json* value = find_field(body, field.c_str());
  if (value == nullptr) fail("field '" + field + "' is required");
  if (value->is_string()) return {value->get<std::string>()};
  if (!value->is_array()) {
    fail("field '" + field + "' must be a string or an array of strings, got " + type_name(*value));
  }
  if (value->empty()) fail("field '" + field + "' is empty: give at least one text");
  if (value->size() > limits.max_inputs) {
    throw Error(ErrorCode::too_large, "field '" + field + "' holds " +
                                          std::to_string(value->size()) + " texts; the limit is " +
                                          std::to_string(limits.max_inputs) + " per request");
  }
  std::vector<std::string> texts;
  texts.reserve(value->size());
  for (size_t i = 0; i < value->size(); ++i) {
    const json& item = (*value)[i];
    if (!item.is_string()) {
      fail("field '" + field + "'[" + std::to_string(i) + "] must be a string, got " +
           type_name(item));
    }
    texts.push_back(item.get<std::string>());
  }
  return texts;
}

std::optional<int64_t> whole_number(const json& value) {
  constexpr double kLimit = 9223372036854775808.0;  // 2^63
  if (value.is_number_unsigned()) {
    const auto number = value.get<uint64_t>();
    if (number > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(number);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (!value.is_number_float()) return std::nullopt;
  const double number = value.get<double>();
  if (!(number >= -kLimit && number < kLimit) || std::trunc(number) != number) return std::nullopt;
  return static_cast<int64_t>(number);
}

std::optional<int64_t> optional_dimensions(const json& body) {
  const json* value = find_field(body, "dimensions");
  if (value == nullptr) return std::nullopt;
  const std::optional<int64_t> number = whole_number(*value);
  if (!number || *number < 1) {
    fail("field 'dimensions' must be a whole number of at least 1, got " +
         (value->is_number() ? value->dump() : type_name(*value)));
  }
  return number;
}

std::optional<TruncationDirection> optional_truncation_direction(const json& body) {
  const auto direction = optional_string(body, "truncation_direction");
  if (!direction) return std::nullopt;
  std::string lower = *direction;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "right") return TruncationDirection::right;
  if (lower == "left") return TruncationDirection::left;
  fail("field 'truncation_direction' must be 'right' or 'left', got '" + *direction + "'");
}

}  // namespace fields

using fields::check_known_fields;
using fields::fail;
using fields::find_field;
using fields::optional_bool;
using fields::optional_dimensions;
using fields::optional_string;
using fields::optional_truncation_direction;
using fields::read_texts;
using fields::required_string;
using fields::type_name;
using fields::whole_number;

namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] "; the tag helps nobody.
std::string without_exception_tag(const std::string& what) {
  const size_t end = what.find("] ");
  return what.rfind("[json.exception.", 0) == 0 && end != std::string::npos ? what.substr(end + 2)
                                                                            : what;
}

// "keep_alive": seconds as a number (negative: forever), or a duration as Ollama writes one.
std::optional<std::chrono::milliseconds> read_keep_alive(const json& body) {
  const json* value = find_field(body, "keep_alive");
  if (value == nullptr) return std::nullopt;
  if (value->is_number()) {
    const double seconds = value->get<double>();
    if (!std::isfinite(seconds) || std::fabs(seconds) > 1e9) {
      fail("field 'keep_alive' must be seconds from -1e9 to 1e9, got " + value->dump());
    }
    return std::chrono::milliseconds(seconds < 0 ? -1 : std::llround(seconds * 1000));
  }
  if (!value->is_string()) {
    fail("field 'keep_alive' must be seconds or a duration such as \"5m\", got " +
         type_name(*value));
  }
  const auto parsed = runtime::parse_keep_alive(value->get<std::string>(), "field 'keep_alive'");
  return parsed.value_or(std::chrono::milliseconds(-1));
}

// "max_length": the window length in tokens (special tokens included) of token classification and
// chunking, or absent for the model's own.
std::optional<int64_t> read_window_length(const json& body) {
  const json* length = find_field(body, "max_length");
  if (length == nullptr) return std::nullopt;
  const std::optional<int64_t> number = whole_number(*length);
  if (!number || *number < 3 || *number > 1'000'000) {
    fail("field 'max_length' must be a whole number of tokens from 3 to 1000000, got " +
         (length->is_number() ? length->dump() : type_name(*length)));
  }
  return *number;
}

}  // namespace

json parse_json_body(std::string_view body) {
  // JSON text is UTF-8 (RFC 8259 §8.1); a body that is not is text the model cannot take.
  if (const auto bad = find_invalid_utf8(body)) {
    throw Error(ErrorCode::input_invalid, "request body is not valid UTF-8 (byte " +
                                              std::to_string(*bad) + " of " +
                                              std::to_string(body.size()) + ")");
  }
  json value;
  try {
    value = json::parse(body);
  } catch (const json::exception& e) {
    // parse_error for syntax, out_of_range for a number beyond double ("1e999").
    const std::string message = without_exception_tag(e.what());
    if (message.find("surrogate") != std::string::npos) {
      throw Error(ErrorCode::input_invalid, "request text is not valid Unicode: " + message);
    }
    fail("malformed JSON: " + message);
  }
  if (!value.is_object()) fail("request body must be a JSON object, got " + type_name(value));
  return value;
}

PoolingMode parse_pooling_name(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, PoolingMode>, 6> kModes = {{
      {"cls", PoolingMode::cls},
      {"mean", PoolingMode::mean},
      {"max", PoolingMode::max},
      {"mean_sqrt_len", PoolingMode::mean_sqrt_len},
      {"weightedmean", PoolingMode::weighted_mean},
      {"lasttoken", PoolingMode::last_token},
  }};
  for (const auto& [known, mode] : kModes) {
    if (name == known) return mode;
  }
  fail("unknown pooling '" + std::string(name) +
       "' (use cls, mean, max, mean_sqrt_len, weightedmean or lasttoken)");
}

runtime::EmbedRequest parse_embed_request(const json& body, const RequestLimits& limits) {
  check_known_fields(body, {"model", "inputs", "normalize", "truncate", "truncation_direction",
                            "pooling", "prompt", "prompt_name", "dimensions"});
  runtime::EmbedRequest request;
  request.model = required_string(body, "model");
  request.inputs = read_texts(body, "inputs", limits);
  request.prompt = optional_string(body, "prompt");
  request.prompt_name = optional_string(body, "prompt_name");
  request.dimensions = optional_dimensions(body);
  request.normalize = optional_bool(body, "normalize");
  request.truncate = optional_bool(body, "truncate").value_or(true);
  request.truncation_direction =
      optional_truncation_direction(body).value_or(TruncationDirection::right);
  if (const auto pooling = optional_string(body, "pooling")) {
    request.pooling = parse_pooling_name(*pooling);
  }
  return request;
}

runtime::TokenizeRequest parse_tokenize_request(const json& body, const RequestLimits& limits) {
  check_known_fields(body,
                     {"model", "inputs", "add_special_tokens", "truncate", "truncation_direction"});
  runtime::TokenizeRequest request;
  request.model = required_string(body, "model");
  request.inputs = read_texts(body, "inputs", limits);
  request.add_special_tokens = optional_bool(body, "add_special_tokens").value_or(true);
  request.truncate = optional_bool(body, "truncate").value_or(true);
  request.truncation_direction =
      optional_truncation_direction(body).value_or(TruncationDirection::right);
  return request;
}

LoadRequest parse_load_request(const json& body) {
  check_known_fields(body,
                     {"model", "device", "pin", "dtype", "keep_alive", "default_prompt_name"});
  LoadRequest request;
  request.model = required_string(body, "model");
  request.options.device = optional_string(body, "device").value_or("");
  request.options.pin = optional_bool(body, "pin").value_or(false);
  request.options.dtype = optional_string(body, "dtype").value_or("");
  request.options.keep_alive = read_keep_alive(body);
  request.options.default_prompt_name = optional_string(body, "default_prompt_name");
  return request;
}

runtime::ClassifyRequest parse_classify_request(const json& body, const RequestLimits& limits) {
  check_known_fields(body, {"model", "inputs", "pairs"});
  runtime::ClassifyRequest request;
  request.model = required_string(body, "model");
  request.inputs = read_texts(body, "inputs", limits);
  if (find_field(body, "pairs") != nullptr) {
    request.pairs = read_texts(body, "pairs", limits);
    if (request.pairs.size() != request.inputs.size()) {
      fail("field 'pairs' must hold one text per input (" + std::to_string(request.inputs.size()) +
           "), got " + std::to_string(request.pairs.size()));
    }
  }
  return request;
}

RerankRequest parse_rerank_request(const json& body, const RequestLimits& limits) {
  check_known_fields(body,
                     {"model", "query", "documents", "raw_scores", "top_n", "return_documents"});
  RerankRequest request;
  request.pairs.model = required_string(body, "model");
  const std::string query = required_string(body, "query");
  request.pairs.pairs = read_texts(body, "documents", limits);
  request.pairs.inputs.assign(request.pairs.pairs.size(), query);
  request.raw_scores = optional_bool(body, "raw_scores").value_or(false);
  request.return_documents = optional_bool(body, "return_documents").value_or(false);
  if (const json* top_n = find_field(body, "top_n"); top_n != nullptr) {
    const std::optional<int64_t> number = whole_number(*top_n);
    if (!number || *number < 1) {
      fail("field 'top_n' must be a whole number of at least 1, got " + top_n->dump());
    }
    request.top_n = static_cast<size_t>(*number);
  }
  return request;
}

runtime::TokenClassifyRequest parse_token_classify_request(const json& body,
                                                           const RequestLimits& limits) {
  check_known_fields(body, {"model", "inputs", "max_length"});
  runtime::TokenClassifyRequest request;
  request.model = required_string(body, "model");
  request.inputs = read_texts(body, "inputs", limits);
  request.max_length = read_window_length(body);
  return request;
}

runtime::ChunkRequest parse_chunk_request(const json& body, const RequestLimits& limits) {
  check_known_fields(body, {"model", "inputs", "max_length", "clean", "snap_to_whitespace"});
  runtime::ChunkRequest request;
  request.model = required_string(body, "model");
  request.inputs = read_texts(body, "inputs", limits);
  request.max_length = read_window_length(body);
  if (const auto clean = optional_string(body, "clean")) {
    const auto parsed = parse_text_cleanup(*clean);
    if (!parsed) fail("field 'clean' must be one of none, text, html, xml, got '" + *clean + "'");
    request.clean = *parsed;
  }
  request.snap_to_whitespace = optional_bool(body, "snap_to_whitespace").value_or(false);
  return request;
}

std::string parse_unload_request(const json& body) {
  check_known_fields(body, {"model"});
  return required_string(body, "model");
}

}  // namespace hades::server
