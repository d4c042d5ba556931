// hades::Error — the one error type of hades, with a stable code.
//
// Thrown inside the library, caught at the edges (the server's request handler, the CLI's main,
// the client boundary). The code is stable and machine-readable; the message names the file,
// request field or value at fault and says what is wrong with it.
#pragma once

#include <cstddef>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

// The error codes, declared once: X(code, http_status, role). The code is also its wire name;
// the enum, the names, the statuses and the clients' status → code table all derive from this
// list. tests/unit/core_error_codes_test.cpp holds docs/protocol.md and docs/api/openapi.yaml to
// it, tests/python/client/test_errors.py the Python client's exception classes. ROLE is an
// ErrorStatusRole.
#define HADES_ERROR_CODES(X)                                                               \
  /* a caller passed a bad value (request field, option, environment variable) */          \
  X(invalid_argument, 400, stands_for_status)                                              \
  /* a file or resource that must exist does not */                                        \
  X(not_found, 404, stands_for_status)                                                     \
  /* a route that exists, asked with a method it does not take */                          \
  X(method_not_allowed, 405, stands_for_status)                                            \
  /* a model id that resolves to nothing, or a model folder that does not exist */         \
  X(model_not_found, 404, shares_status)                                                   \
  /* a model file exists but is malformed (safetensors, config.json, tokenizer.json) */    \
  X(invalid_model, 500, shares_status)                                                     \
  /* well-formed but not supported (pickle weights, remote code, unknown architecture) */  \
  X(unsupported, 422, shares_status)                                                       \
  /* input that is valid JSON but cannot be processed by this model */                     \
  X(input_invalid, 422, stands_for_status)                                                 \
  /* a limit was exceeded (body size, inputs per request, header length) */                \
  X(too_large, 413, stands_for_status)                                                     \
  /* the request conflicts with the current state (e.g. pinned model) */                   \
  X(conflict, 409, stands_for_status)                                                      \
  /* a memory budget cannot be met */                                                      \
  X(out_of_memory, 507, stands_for_status)                                                 \
  /* too many concurrent requests */                                                       \
  X(overloaded, 429, stands_for_status)                                                    \
  /* the model is still loading */                                                         \
  X(loading, 503, shares_status)                                                           \
  /* the service is draining */                                                            \
  X(shutting_down, 503, stands_for_status)                                                 \
  /* the operating system refused a read, write, map or socket operation */                \
  X(io_error, 500, shares_status)                                                          \
  /* the client found no server on the socket; were a server to send it, "unavailable" */  \
  X(connection_refused, 503, client_only)                                                  \
  /* the hub refused a gated or private model (no or wrong HF_TOKEN) */                    \
  X(access_denied, 403, stands_for_status)                                                 \
  /* a request on the TCP listener without the service's API key */                        \
  X(unauthorized, 401, stands_for_status)                                                  \
  /* the hub, upstream of this service, could not be reached or the transfer broke off: */ \
  /* a bad gateway */                                                                      \
  X(network_error, 502, stands_for_status)                                                 \
  /* a bug: an invariant of hades itself does not hold */                                  \
  X(internal, 500, stands_for_status)

namespace hades {

enum class ErrorCode {
#define HADES_ERROR_CODE_ENUMERATOR(code, status, role) code,
  HADES_ERROR_CODES(HADES_ERROR_CODE_ENUMERATOR)
#undef HADES_ERROR_CODE_ENUMERATOR
};

// What a code's HTTP status says of it, for reading an error answer that names no code.
enum class ErrorStatusRole {
  stands_for_status,  // the code such an answer with this status is read as (one per status)
  shares_status,      // another code with the same status
  client_only,        // reported by the clients only; the service never sends it
};

struct ErrorCodeInfo {
  ErrorCode code;
  std::string_view name;  // the stable snake_case name, as it appears in the protocol
  int http_status;
  ErrorStatusRole role;
};

// Every code, in the enum's order.
inline constexpr ErrorCodeInfo kErrorCodes[] = {
#define HADES_ERROR_CODE_INFO(code, status, role) \
  {ErrorCode::code, #code, status, ErrorStatusRole::role},
    HADES_ERROR_CODES(HADES_ERROR_CODE_INFO)
#undef HADES_ERROR_CODE_INFO
};

// CODE's entry; a value outside the enum (cast from untrusted bytes) reads as internal.
constexpr const ErrorCodeInfo& error_code_info(ErrorCode code) noexcept {
  const auto index = static_cast<std::size_t>(code);
  return index < std::size(kErrorCodes)
             ? kErrorCodes[index]
             : kErrorCodes[static_cast<std::size_t>(ErrorCode::internal)];
}

// The stable snake_case name of a code, as it appears in the protocol ("model_not_found").
std::string_view error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace hades
