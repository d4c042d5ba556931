#include "hades/error.hpp"

namespace hades {

std::string_view error_code_name(ErrorCode code) noexcept {
  return error_code_info(code).name;
}

}  // namespace hades
