#include "client/service.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "client/http.hpp"
#include "client/socket_io.hpp"
#include "client/spawn.hpp"
#include "client/wire.hpp"
#include "core/os_error.hpp"

namespace hades::client {
namespace {

namespace fs = std::filesystem;

constexpr auto kPollInterval = std::chrono::milliseconds(20);

std::string lock_file(const ClientOptions& o) {
  return o.socket_path + ".lock";
}
std::string log_file(const ClientOptions& o) {
  return o.socket_path + ".log";
}
std::string start_lock_file(const ClientOptions& o) {
  return o.socket_path + ".start.lock";
}

std::string seconds_text(std::chrono::milliseconds timeout) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g s", static_cast<double>(timeout.count()) / 1000.0);
  return text;
}

// An exclusive flock on a file, held while the object lives.
class FileLock {
 public:
  FileLock(const std::string& path, Deadline deadline, std::chrono::milliseconds timeout)
      : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (!fd_) {
      throw Error(ErrorCode::io_error, os_error("cannot open the lock file " + path, errno));
    }
    // Polled rather than blocking, so that a stuck holder turns into a clear timeout.
    while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        throw Error(ErrorCode::io_error, os_error("cannot lock " + path, errno));
      }
      if (Clock::now() >= deadline) {
        throw Error(ErrorCode::io_error, "timed out after " + seconds_text(timeout) +
                                             " waiting for another client that starts or stops "
                                             "the service (it holds " +
                                             path + ")");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  UniqueFd fd_;
};

bool is_executable_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

// The pid a /v1/status answer names, asked with a short deadline; nullopt on any failure.
std::optional<int64_t> status_pid(const ClientOptions& options) {
  try {
    const Deadline deadline =
        deadline_after(std::min(options.control_timeout, std::chrono::milliseconds(5000)));
    const UniqueFd fd = connect_unix(options.socket_path, deadline);
    const auto response = exchange(fd.get(), format_request("GET", "/v1/status", ""), deadline,
                                   "GET /v1/status on " + options.socket_path);
    if (!response || response->status != 200) return std::nullopt;
    const int64_t pid = parse_status(response->body).pid;
    return pid > 0 ? std::optional<int64_t>(pid) : std::nullopt;
  } catch (const Error&) {
    return std::nullopt;
  }
}

uintmax_t file_size_or_zero(const std::string& path) {
  std::error_code error;
  const uintmax_t size = fs::file_size(path, error);
  return error ? 0 : size;
}

// The error of a daemon that exited before accepting connections: the last error line it logged
// after LOG_START (its stderr goes there too), with the code it names.
Error start_failure(const ClientOptions& options, int64_t pid, uintmax_t log_start) {
  std::ifstream log(log_file(options), std::ios::binary);
  log.seekg(static_cast<std::streamoff>(log_start));
  std::string line, last_error, last_line;
  while (std::getline(log, line)) {
    if (line.empty()) continue;
    last_line = line;
    if (line.find("ERROR") != std::string::npos || line.find("error") != std::string::npos) {
      last_error = line;
    }
  }
  std::string message = last_error.empty() ? last_line : last_error;
  if (message.empty()) {
    return Error(ErrorCode::io_error, "the service (pid " + std::to_string(pid) +
                                          ") exited before accepting connections on " +
                                          options.socket_path + " and logged nothing to " +
                                          log_file(options));
  }
  // "hades: error [conflict]: ..." (main) or "... cannot serve [conflict]: ..." (the server).
  ErrorCode code = ErrorCode::io_error;
  static const std::regex coded(R"(\[([a-z_]+)\]: (.*)$)");
  if (std::smatch match; std::regex_search(message, match, coded)) {
    if (const auto parsed = error_code_from_name(match[1].str())) {
      code = *parsed;
      message = match[2].str();
    }
  }
  return Error(code,
               "the service failed to start: " + message + " (log: " + log_file(options) + ")");
}

// A daemon that already serves the socket or is starting up (it holds the socket's lock): waits
// until it accepts and returns its pid. nullopt when there is none.
std::optional<int64_t> existing_service(const ClientOptions& options, Deadline deadline) {
  if (socket_accepts(options.socket_path)) {
    if (auto pid = service_pid(options)) return pid;
    return int64_t{0};
  }
  const auto holder = lock_holder_pid(lock_file(options));
  if (!holder) return std::nullopt;
  while (process_alive(*holder)) {
    if (socket_accepts(options.socket_path)) return holder;
    if (Clock::now() >= deadline) {
      throw Error(ErrorCode::io_error,
                  "the service (pid " + std::to_string(*holder) + ") holds " + lock_file(options) +
                      " but did not accept connections on " + options.socket_path + " within " +
                      seconds_text(options.start_timeout) + "; its log is " + log_file(options));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return std::nullopt;
}

StartResult wait_until_ready(const ClientOptions& options, int64_t pid, uintmax_t log_start,
                             Deadline deadline) {
  for (;;) {
    if (socket_accepts(options.socket_path)) {
      // A daemon started by other means (`hades serve` by hand) may have won the socket.
      const auto holder = lock_holder_pid(lock_file(options));
      if (holder && *holder != pid) return {true, *holder};
      return {false, pid};
    }
    if (!process_alive(pid)) {
      const auto holder = lock_holder_pid(lock_file(options));
      if (holder && *holder != pid) {
        if (const auto other = existing_service(options, deadline)) return {true, *other};
      }
      throw start_failure(options, pid, log_start);
    }
    if (Clock::now() >= deadline) {
      throw Error(ErrorCode::io_error,
                  "the service (pid " + std::to_string(pid) + ") did not accept connections on " +
                      options.socket_path + " within " + seconds_text(options.start_timeout) +
                      "; its log is " + log_file(options));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace

fs::path find_hades_binary(const std::string& configured) {
  if (!configured.empty()) {
    if (is_executable_file(configured)) return configured;
    throw Error(ErrorCode::invalid_argument,
                "the hades program '" + configured + "' is not an executable file");
  }
  if (const char* from_env = std::getenv("HADES_BIN"); from_env != nullptr) {
    if (is_executable_file(from_env)) return from_env;
    throw Error(ErrorCode::invalid_argument, "HADES_BIN must name the hades program, got '" +
                                                 std::string(from_env) +
                                                 "' (not an executable file)");
  }
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (!error && is_executable_file(self.parent_path() / "hades"))
    return self.parent_path() / "hades";
  // The build's own binary (a definition from CMake), for programs that live elsewhere.
  if (fs::path built = HADES_DEFAULT_BINARY; is_executable_file(built)) return built;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::stringstream folders(path);
    for (std::string folder; std::getline(folders, folder, ':');) {
      if (!folder.empty() && is_executable_file(fs::path(folder) / "hades")) {
        return fs::path(folder) / "hades";
      }
    }
  }
  throw Error(ErrorCode::not_found, "cannot find the hades program: set HADES_BIN to its path");
}

std::optional<int64_t> lock_holder_pid(const std::string& lock_path) {
  struct stat file {};
  if (::stat(lock_path.c_str(), &file) != 0) return std::nullopt;
  // Lines read "1: FLOCK  ADVISORY  WRITE 1234 fe:00:10952733 0 EOF"; a waiter's has "->".
  std::ifstream locks("/proc/locks");
  for (std::string line; std::getline(locks, line);) {
    std::istringstream fields(line);
    std::string ordinal, type, advisory, mode, where;
    int64_t pid = 0;
    if (!(fields >> ordinal >> type) || type == "->") continue;
    if (!(fields >> advisory >> mode >> pid >> where)) continue;
    unsigned int major_number = 0, minor_number = 0;
    unsigned long inode = 0;
    if (std::sscanf(where.c_str(), "%x:%x:%lu", &major_number, &minor_number, &inode) != 3) {
      continue;
    }
    if (pid > 0 && inode == file.st_ino && major_number == major(file.st_dev) &&
        minor_number == minor(file.st_dev)) {
      return pid;
    }
  }
  return std::nullopt;
}

namespace {

// The state letter in a /proc/.../stat line ('R', 'S', 'Z', ...); 0 when it cannot be read.
char proc_state(const std::string& stat_path) {
  std::ifstream stat(stat_path);
  std::string text;
  if (!std::getline(stat, text)) return 0;
  const size_t name_end = text.rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= text.size()) return 0;
  return text[name_end + 2];
}

bool exited(char state) {
  return state == 0 || state == 'Z' || state == 'X';
}

}  // namespace

bool process_alive(int64_t pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  // An exited process that nobody has reaped yet still answers kill(); its state says "Z". The
  // main thread alone says little: after SIGKILL, or pthread_exit() in main, it is a zombie while
  // other threads still run or still hold the process's files (its listening socket among them).
  // The process has exited once every thread has.
  const std::string proc = "/proc/" + std::to_string(pid);
  std::error_code error;
  for (fs::directory_iterator it(proc + "/task", error), end; !error && it != end;
       it.increment(error)) {
    if (!exited(proc_state((it->path() / "stat").string()))) return true;
  }
  if (!error) return false;
  return !exited(proc_state(proc + "/stat"));
}

std::optional<int64_t> service_pid(const ClientOptions& options) {
  if (auto holder = lock_holder_pid(lock_file(options)); holder && process_alive(*holder)) {
    return holder;
  }
  if (socket_accepts(options.socket_path)) return status_pid(options);
  return std::nullopt;
}

StartResult start_service(const ClientOptions& options) {
  const Deadline deadline = deadline_after(options.start_timeout);
  const FileLock guard(start_lock_file(options), deadline, options.start_timeout);
  if (const auto pid = existing_service(options, deadline)) return {true, *pid};

  DaemonSpec spec;
  spec.program = find_hades_binary(options.hades_binary);
  // --quiet: the daemon's stderr is its log file already, so it must not write each line twice.
  spec.arguments = {"serve", "--socket", options.socket_path, "--quiet"};
  spec.environment = {{"HADES_MODEL_MGR_SOCKET", options.socket_path}};
  spec.stderr_file = log_file(options);
  const uintmax_t log_start = file_size_or_zero(log_file(options));
  const int64_t pid = spawn_daemon(spec);
  return wait_until_ready(options, pid, log_start, deadline);
}

StopResult stop_service(const ClientOptions& options) {
  const Deadline deadline = deadline_after(options.stop_timeout);
  const FileLock guard(start_lock_file(options), deadline, options.stop_timeout);
  const auto pid = service_pid(options);
  if (!pid) return {false, 0};
  if (::kill(static_cast<pid_t>(*pid), SIGTERM) != 0) {
    if (errno == ESRCH) return {true, *pid};
    throw Error(ErrorCode::io_error,
                os_error("cannot stop the service (pid " + std::to_string(*pid) + ")", errno));
  }
  // The daemon drains requests in flight, unloads its models and removes its socket, then exits.
  while (process_alive(*pid)) {
    if (Clock::now() >= deadline) {
      throw Error(ErrorCode::io_error,
                  "the service (pid " + std::to_string(*pid) + ") did not exit within " +
                      seconds_text(options.stop_timeout) + " of SIGTERM; its log is " +
                      log_file(options) + " (kill -9 " + std::to_string(*pid) + " forces it)");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return {true, *pid};
}

}  // namespace hades::client
