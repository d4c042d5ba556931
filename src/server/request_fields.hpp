// Reading the fields of a JSON request body, with errors that name the field: the pieces every
// route's parser is made of (requests.cpp, compat_requests.cpp). invalid_argument unless said.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/requests.hpp"

namespace hades::server::fields {

[[noreturn]] void fail(const std::string& message);
std::string type_name(const nlohmann::json& value);  // "null", "object", "array", ...
// Refuses fields the route does not know: a misspelt option ("normalise") would otherwise be
// silently ignored and change the result.
void check_known_fields(const nlohmann::json& body, std::initializer_list<std::string_view> known);
// The field's value, or nullptr when it is absent or null.
const nlohmann::json* find_field(const nlohmann::json& body, const char* name);
std::string required_string(const nlohmann::json& body, const char* name);  // non-empty
std::optional<bool> optional_bool(const nlohmann::json& body, const char* name);
std::optional<std::string> optional_string(const nlohmann::json& body, const char* name);
// VALUE as a whole number, when it is one: JSON Schema counts 16.0 as the integer 16, so JSON
// clients may send it so.
std::optional<int64_t> whole_number(const nlohmann::json& value);
// "dimensions": a whole number of at least 1 (Matryoshka's cut), or absent.
std::optional<int64_t> optional_dimensions(const nlohmann::json& body);
// "truncation_direction": "right" or "left" (TEI's "Right"/"Left": any case), or absent.
std::optional<TruncationDirection> optional_truncation_direction(const nlohmann::json& body);
// FIELD: one string, or a non-empty array of strings of at most limits.max_inputs entries
// (too_large beyond).
std::vector<std::string> read_texts(const nlohmann::json& body, const std::string& field,
                                    const RequestLimits& limits);

}  // namespace hades::server::fields
