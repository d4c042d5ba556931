// Client settings from the environment, as the seed names them: HADES_MODEL_MGR_SOCKET and
// HADES_RUNTIME_AUTOSTART. A set but invalid variable is refused, never silently defaulted.
#include <sys/un.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "hades/client.hpp"

namespace hades {
namespace {

const char* env_or_null(const char* name) {
  return std::getenv(name);
}

void check_socket_path(const std::string& path, const std::string& source) {
  constexpr size_t kMaxPath = sizeof(sockaddr_un::sun_path) - 1;
  if (path.empty() || path.size() > kMaxPath) {
    throw Error(ErrorCode::invalid_argument, source + " must be a socket path of 1 to " +
                                                 std::to_string(kMaxPath) + " bytes, got '" + path +
                                                 "' (" + std::to_string(path.size()) + " bytes)");
  }
}

void check_positive(std::chrono::milliseconds value, const char* name) {
  if (value.count() <= 0) {
    throw Error(ErrorCode::invalid_argument, std::string("client option ") + name +
                                                 " must be positive, got " +
                                                 std::to_string(value.count()) + " ms");
  }
}

}  // namespace

ClientOptions resolve_client_options(ClientOptions options) {
  std::string source = "the socket path";
  if (options.socket_path.empty()) {
    const char* from_env = env_or_null("HADES_MODEL_MGR_SOCKET");
    options.socket_path = from_env == nullptr ? kDefaultSocketPath : from_env;
    if (from_env != nullptr) source = "HADES_MODEL_MGR_SOCKET";
  }
  // The daemon runs from "/", so a relative path must not travel to it as it is.
  if (!options.socket_path.empty() && options.socket_path.front() != '/') {
    options.socket_path =
        std::filesystem::absolute(options.socket_path).lexically_normal().string();
  }
  check_socket_path(options.socket_path, source);

  if (!options.autostart) {
    const char* value = env_or_null("HADES_RUNTIME_AUTOSTART");
    const std::string text = value == nullptr ? "1" : value;
    if (text != "0" && text != "1") {
      throw Error(ErrorCode::invalid_argument,
                  "HADES_RUNTIME_AUTOSTART must be 0 or 1, got '" + text + "'");
    }
    options.autostart = text == "1";
  }
  check_positive(options.connect_timeout, "connect_timeout");
  check_positive(options.control_timeout, "control_timeout");
  check_positive(options.request_timeout, "request_timeout");
  check_positive(options.start_timeout, "start_timeout");
  check_positive(options.stop_timeout, "stop_timeout");
  if (options.overloaded_retries < 0) {
    throw Error(ErrorCode::invalid_argument,
                "client option overloaded_retries must not be negative");
  }
  return options;
}

}  // namespace hades
