// hades::Error — the one error type of hades, with a stable code.
//
// Thrown inside the library, caught at the edges (the server's request handler, the CLI's main,
// the client boundary). The code is stable and machine-readable; the message names the file,
// request field or value at fault and says what is wrong with it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace hades {

enum class ErrorCode {
  invalid_argument,    // a caller passed a bad value (request field, option, environment variable)
  not_found,           // a file or resource that must exist does not
  method_not_allowed,  // a route that exists, asked with a method it does not take
  model_not_found,     // a model id that resolves to nothing
  invalid_model,  // a model file exists but is malformed (safetensors, config.json, tokenizer.json)
  unsupported,  // well-formed but not supported (pickle weights, remote code, unknown architecture)
  input_invalid,       // input that is valid JSON but cannot be processed by this model
  too_large,           // a limit was exceeded (body size, inputs per request, header length)
  conflict,            // the request conflicts with the current state (e.g. pinned model)
  out_of_memory,       // a memory budget cannot be met
  overloaded,          // too many concurrent requests
  loading,             // the model is still loading
  shutting_down,       // the service is draining
  io_error,            // the operating system refused a read, write, map or socket operation
  connection_refused,  // the client found no server on the socket
  access_denied,       // the hub refused a gated or private model (no or wrong HF_TOKEN)
  unauthorized,        // a request on the TCP listener without the service's API key
  network_error,       // the hub could not be reached, or the transfer broke off
  internal,            // a bug: an invariant of hades itself does not hold
};

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
