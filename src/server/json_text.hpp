// JSON text helpers of the HTTP layer: lenient serialization, UTF-8 validation, float formatting.
//
// Responses carry strings the server does not control (error messages quoting file contents or
// request bytes, tokens): they are serialized with invalid UTF-8 replaced by U+FFFD rather than
// failing the response.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "hades/error.hpp"

namespace hades::server {

// json.dump() that replaces invalid UTF-8 instead of throwing.
std::string dump_lenient(const nlohmann::json& value);

// The byte offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or nullopt when TEXT is well-formed.
std::optional<size_t> find_invalid_utf8(std::string_view text) noexcept;

// Appends VALUE in the shortest form that reads back as the same float; non-finite values become
// null, as JSON has no spelling for them.
void append_json_float(std::string& out, float value);

// The protocol's error body, {"error": {"code": CODE, "message": MESSAGE}}.
std::string error_body(ErrorCode code, std::string_view message);

}  // namespace hades::server
