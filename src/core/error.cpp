#include "hades/error.hpp"

namespace hades {

std::string_view error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::method_not_allowed: return "method_not_allowed";
    case ErrorCode::model_not_found: return "model_not_found";
    case ErrorCode::invalid_model: return "invalid_model";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::input_invalid: return "input_invalid";
    case ErrorCode::too_large: return "too_large";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::out_of_memory: return "out_of_memory";
    case ErrorCode::overloaded: return "overloaded";
    case ErrorCode::loading: return "loading";
    case ErrorCode::shutting_down: return "shutting_down";
    case ErrorCode::io_error: return "io_error";
    case ErrorCode::connection_refused: return "connection_refused";
    case ErrorCode::access_denied: return "access_denied";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::network_error: return "network_error";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

}  // namespace hades
