// The one table from error code to HTTP status (docs/protocol.md, "Errors").
#pragma once

#include "hades/error.hpp"

namespace hades::server {

int http_status(ErrorCode code) noexcept;

}  // namespace hades::server
