// Runs a program as a detached daemon: its own session, no controlling terminal, stdin and stdout
// on /dev/null, stderr appended to a log file, working folder "/", no descriptor of ours.
//
// The daemon is a grandchild (double fork), so it is never our zombie to reap and outlives us.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace hades::client {

struct DaemonSpec {
  std::filesystem::path program;
  std::vector<std::string> arguments;                            // after argv[0]
  std::vector<std::pair<std::string, std::string>> environment;  // set on top of ours
  std::filesystem::path stderr_file;                             // appended to; created 0600
};

// Starts SPEC and returns the daemon's pid once it has exec'd the program. A program that cannot
// be run is an io_error naming it.
int64_t spawn_daemon(const DaemonSpec& spec);

}  // namespace hades::client
