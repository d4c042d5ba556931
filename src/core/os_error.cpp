#include "core/os_error.hpp"

#include <system_error>

namespace hades {

// std::system_category's message is strerror's text without strerror's shared buffer, which
// another thread's call may overwrite.
std::string os_error(std::string_view what, int error_number) {
  return std::string(what) + ": " + std::system_category().message(error_number);
}

}  // namespace hades
