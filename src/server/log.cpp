#include "server/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/os_error.hpp"
#include "hades/error.hpp"

namespace hades::server {
namespace {

// "2025-01-31T12:34:56.789Z": UTC, so that lines from different hosts and time zones sort.
std::string timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char buffer[40];
  const size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buffer + n, sizeof(buffer) - n, ".%03dZ", static_cast<int>(ms));
  return buffer;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::info: return "INFO ";
    case LogLevel::warn: return "WARN ";
    case LogLevel::error: return "ERROR";
  }
  return "ERROR";
}

// Writes all of TEXT, or gives up silently: a full disk must not take the service down.
void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

Logger::Logger(const std::filesystem::path& file, bool to_stderr) : to_stderr_(to_stderr) {
  if (file.empty()) return;
  file_.reset(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!file_) {
    throw Error(ErrorCode::io_error, os_error("cannot open the log file " + file.string(), errno));
  }
}

void Logger::write(LogLevel level, std::string_view message) {
  std::string line = timestamp_now() + " " + level_name(level) + " ";
  line.append(message);
  // One event, one line: a message quoting request bytes must not forge further lines.
  for (size_t i = line.size() - message.size(); i < line.size(); ++i) {
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  }
  line += '\n';
  std::lock_guard lock(mutex_);
  if (file_) write_all(file_.get(), line);
  if (to_stderr_) write_all(STDERR_FILENO, line);
}

}  // namespace hades::server
