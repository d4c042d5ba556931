// Service management from the client side: find, start, and stop the `hades serve` daemon of a
// socket.
//
// Files beside the socket (docs/protocol.md): SOCKET.lock is the daemon's kernel lock (held for its
// life); SOCKET.log its log; SOCKET.start.lock serialises the clients that start or stop it, so
// that racing starts spawn one daemon (the daemon's own lock would also refuse a second one).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "hades/client.hpp"
#include "hades/types.hpp"

namespace hades::client {

// The `hades` program to run: CONFIGURED if set, else HADES_BIN, else `hades` beside the running
// program, else the build's own binary, else `hades` on PATH. not_found when none is executable;
// a set but unusable HADES_BIN is invalid_argument.
std::filesystem::path find_hades_binary(const std::string& configured);

// The pid holding a kernel lock (flock or POSIX) on LOCK_PATH, read from /proc/locks.
std::optional<int64_t> lock_holder_pid(const std::string& lock_path);

// true while PID exists and has not exited (a zombie counts as exited).
bool process_alive(int64_t pid);

// The pid of the daemon serving OPTIONS.socket_path, running or still starting; nullopt if none.
std::optional<int64_t> service_pid(const ClientOptions& options);

// Starts the daemon unless one runs; returns once the socket accepts connections. A daemon that
// exits before that is an error quoting its log.
StartResult start_service(const ClientOptions& options);

// SIGTERM to the daemon, then waits until it has exited and its socket no longer accepts.
StopResult stop_service(const ClientOptions& options);

}  // namespace hades::client
