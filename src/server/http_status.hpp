// The HTTP status of an error code, as include/hades/error.hpp declares it (docs/protocol.md,
// "Errors").
#pragma once

#include "hades/error.hpp"

namespace hades::server {

int http_status(ErrorCode code) noexcept;

}  // namespace hades::server
