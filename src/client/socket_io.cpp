#include "client/socket_io.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "core/os_error.hpp"
#include "hades/error.hpp"

namespace hades::client {
namespace {

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    throw Error(ErrorCode::invalid_argument, "socket path '" + path + "' must be 1 to " +
                                                 std::to_string(sizeof(address.sun_path) - 1) +
                                                 " bytes long");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

// Waits until FD is ready for EVENTS; a deadline that passes first is an io_error naming WHAT.
void wait_ready(int fd, short events, Deadline deadline, std::string_view what) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      throw Error(ErrorCode::io_error, "timed out waiting for " + std::string(what));
    }
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::min<long long>(left, 60'000)));
    if (ready > 0) return;
    if (ready < 0 && errno != EINTR) {
      throw Error(ErrorCode::io_error, os_error("poll failed on " + std::string(what), errno));
    }
  }
}

// The error of a failed connect(); nullopt when it is worth trying again (a full accept queue).
std::optional<Error> connect_error(int err, const std::string& path) {
  switch (err) {
    case ENOENT:
    case ECONNREFUSED:
    case ENOTDIR: return Error(ErrorCode::connection_refused, connection_refused_message(path));
    case EAGAIN: return std::nullopt;
    case EACCES:
    case EPERM:
      return Error(ErrorCode::io_error,
                   "permission denied connecting to " + path +
                       " (the socket belongs to another user, or a folder above it is private)");
    default: return Error(ErrorCode::io_error, os_error("cannot connect to " + path, err));
  }
}

}  // namespace

std::string connection_refused_message(const std::string& socket_path) {
  return "Connection refused: the service is not running at " + socket_path +
         " (start it with `hades start`)";
}

UniqueFd connect_unix(const std::string& path, Deadline deadline) {
  const sockaddr_un address = unix_address(path);
  // An accept queue that is full (EAGAIN) drains quickly: try again, waiting a little longer each
  // time.
  for (auto backoff = std::chrono::milliseconds(1);;
       backoff = std::min(backoff * 2, std::chrono::milliseconds(50))) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw Error(ErrorCode::io_error, os_error("cannot create a socket", errno));
    int err = 0;
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      err = errno;
    }
    if (err == EINPROGRESS || err == EINTR) {
      wait_ready(fd.get(), POLLOUT, deadline, "a connection to " + path);
      socklen_t length = sizeof(err);
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &length);
    }
    if (err == 0) return fd;
    if (auto error = connect_error(err, path)) throw *error;
    if (Clock::now() + backoff >= deadline) {
      throw Error(ErrorCode::io_error,
                  "timed out connecting to " + path + ": the service's accept queue stayed full");
    }
    std::this_thread::sleep_for(backoff);
  }
}

bool socket_accepts(const std::string& path) {
  try {
    return static_cast<bool>(connect_unix(path, deadline_after(std::chrono::milliseconds(200))));
  } catch (const Error&) {
    return false;
  }
}

bool write_all(int fd, std::string_view data, Deadline deadline, std::string_view what) {
  while (!data.empty()) {
    const ssize_t written = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (written > 0) {
      data.remove_prefix(static_cast<size_t>(written));
      continue;
    }
    const int err = errno;
    if (err == EPIPE || err == ECONNRESET) return false;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      wait_ready(fd, POLLOUT, deadline, what);
    } else if (err != EINTR) {
      throw Error(ErrorCode::io_error, os_error("cannot send " + std::string(what), err));
    }
  }
  return true;
}

size_t read_some(int fd, char* buffer, size_t capacity, Deadline deadline, std::string_view what) {
  for (;;) {
    const ssize_t got = ::recv(fd, buffer, capacity, 0);
    if (got >= 0) return static_cast<size_t>(got);
    const int err = errno;
    if (err == ECONNRESET) return 0;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      wait_ready(fd, POLLIN, deadline, what);
    } else if (err != EINTR) {
      throw Error(ErrorCode::io_error, os_error("cannot read " + std::string(what), err));
    }
  }
}

}  // namespace hades::client
