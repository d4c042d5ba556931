// The service log: one line per event, "TIMESTAMP LEVEL message", appended to a file (SOCKET.log
// by default) and, under `hades serve`, also written to stderr. Thread-safe.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

#include "core/unique_fd.hpp"

namespace hades::server {

enum class LogLevel { info, warn, error };

class Logger {
 public:
  // Opens (creates, appends to) FILE; an empty path logs to stderr only. io_error when the file
  // cannot be opened.
  Logger(const std::filesystem::path& file, bool to_stderr);
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void write(LogLevel level, std::string_view message);
  void info(std::string_view message) { write(LogLevel::info, message); }
  void warn(std::string_view message) { write(LogLevel::warn, message); }
  void error(std::string_view message) { write(LogLevel::error, message); }

 private:
  std::mutex mutex_;
  UniqueFd file_;
  bool to_stderr_;
};

}  // namespace hades::server
