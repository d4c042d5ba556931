#include "server/http_status.hpp"

namespace hades::server {

int http_status(ErrorCode code) noexcept {
  return error_code_info(code).http_status;
}

}  // namespace hades::server
