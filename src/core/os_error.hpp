// The text of an operating system error, for messages that name what was refused.
#pragma once

#include <string>
#include <string_view>

namespace hades {

// "WHAT: the system's description of ERROR_NUMBER" ("cannot open /x: No such file or directory").
std::string os_error(std::string_view what, int error_number);

}  // namespace hades
