// Unix-domain stream sockets with deadlines: the transport under the client's HTTP.
//
// Every call takes an absolute deadline; waiting past it is an io_error that says what timed out.
// Sockets are non-blocking and polled, so a slow or silent peer never hangs the caller.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/unique_fd.hpp"

namespace hades::client {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadline_after(std::chrono::milliseconds timeout) {
  return Clock::now() + timeout;
}

using hades::UniqueFd;

// The message of a client that finds no service on SOCKET_PATH.
std::string connection_refused_message(const std::string& socket_path);

// Connects to the Unix socket at PATH. No socket file, or no process accepting on it, is a
// connection_refused error with connection_refused_message(); a full accept queue is waited out
// until DEADLINE; anything else is an io_error naming the path.
UniqueFd connect_unix(const std::string& path, Deadline deadline);

// true when something accepts connections on PATH now (a probe; never throws).
bool socket_accepts(const std::string& path);

// Writes all of DATA; false when the peer has closed the connection (EPIPE, ECONNRESET). WHAT
// names the exchange in a timeout or other io_error.
bool write_all(int fd, std::string_view data, Deadline deadline, std::string_view what);

// Reads what is there into BUFFER: at least one byte, or 0 when the peer has closed the connection.
size_t read_some(int fd, char* buffer, size_t capacity, Deadline deadline, std::string_view what);

}  // namespace hades::client
