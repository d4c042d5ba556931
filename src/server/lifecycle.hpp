// The service's life on the machine: one daemon per socket path, a private socket, signals.
//
// Files beside the socket SOCKET (docs/operations.md):
//   SOCKET.lock  the daemon's kernel lock (flock), held for its whole life; holds its pid
//   SOCKET.log   its log
// Order at start: take the lock, then look at the socket path (a stale socket is replaced, a live
// one refused), then bind. Holding the lock first makes the stale check race-free: no other hades
// can be binding the same path meanwhile.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "core/unique_fd.hpp"
#include "server/log.hpp"

namespace hades::server {

std::filesystem::path lock_path_for(const std::filesystem::path& socket);  // SOCKET.lock
std::filesystem::path log_path_for(const std::filesystem::path& socket);   // SOCKET.log

// The daemon's kernel lock: flock(LOCK_EX) on SOCKET.lock. The kernel drops it when the process
// dies in any way, so a kill -9 never leaves a stale lock behind.
class DaemonLock {
 public:
  // Takes the lock and writes our pid into the file, or throws Error(conflict,
  // "already running (pid N) on SOCKET") when another process holds it.
  static DaemonLock acquire(const std::filesystem::path& socket);

  DaemonLock(DaemonLock&&) = default;
  DaemonLock& operator=(DaemonLock&&) = default;
  ~DaemonLock();  // clears the pid; closing the file releases the lock

 private:
  explicit DaemonLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// The socket file this process created. remove() unlinks it only while the path still names the
// same inode, so a daemon never deletes a socket that another daemon put there since.
class SocketFile {
 public:
  SocketFile(std::filesystem::path path, dev_t device, ino_t inode)
      : path_(std::move(path)), device_(device), inode_(inode) {}
  SocketFile(SocketFile&& other) noexcept;
  SocketFile& operator=(SocketFile&&) = delete;
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;
  ~SocketFile() { remove(); }

  void remove() noexcept;

 private:
  std::filesystem::path path_;
  dev_t device_;
  ino_t inode_;
  bool armed_ = true;
};

struct ListeningSocket {
  UniqueFd fd;
  SocketFile file;
};

// Makes PATH ready and listens on it, mode 0600. Refuses (Error conflict, naming the path) a path
// owned by another user, a path that is not a socket, and a socket on which a server accepts
// ("already running (pid N)"). A socket nobody accepts on is stale: it is removed (and logged).
ListeningSocket listen_on_socket(const std::filesystem::path& path, Logger& log);

// SIGTERM and SIGINT, taken synchronously: construct before any thread starts, so that every
// thread inherits the blocked mask and only wait() sees the signals.
class ShutdownSignals {
 public:
  ShutdownSignals();
  // The next signal, or nullopt when TIMEOUT passes first.
  std::optional<int> wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
};

// Process hygiene for a daemon: fds 0-2 open (on /dev/null when closed, so that no socket ever
// becomes "stderr"), SIGPIPE ignored, the open-file limit raised to its hard limit.
void prepare_process();

}  // namespace hades::server
