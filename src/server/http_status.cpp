#include "server/http_status.hpp"

namespace hades::server {

int http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument: return 400;
    case ErrorCode::not_found: return 404;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::model_not_found: return 404;
    case ErrorCode::conflict: return 409;
    case ErrorCode::too_large: return 413;
    case ErrorCode::input_invalid: return 422;
    case ErrorCode::unsupported: return 422;
    case ErrorCode::overloaded: return 429;
    case ErrorCode::invalid_model: return 500;
    case ErrorCode::io_error: return 500;
    case ErrorCode::internal: return 500;
    case ErrorCode::out_of_memory: return 507;
    case ErrorCode::access_denied: return 403;
    case ErrorCode::unauthorized: return 401;
    // The hub, upstream of this service, is unreachable or failed: a bad gateway.
    case ErrorCode::network_error: return 502;
    case ErrorCode::loading: return 503;
    case ErrorCode::shutting_down: return 503;
    // A client-side code; a server never reports it, but if one did, "unavailable" is its meaning.
    case ErrorCode::connection_refused: return 503;
  }
  return 500;
}

}  // namespace hades::server
