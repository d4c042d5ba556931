// The optional check of who connects on the Unix socket (--allowed-uids, HADES_ALLOWED_UIDS). The
// socket's mode 0600 already keeps other users out, but not root, nor anyone once an operator
// relaxes the mode or shares the folder; with a list of uids, a connection from a process whose
// uid (as the kernel reports it, SO_PEERCRED) is not listed is closed unread.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace hades::server {

// "1000" or "1000,1001" → the uids; anything else is invalid_argument naming WHAT.
std::vector<uid_t> parse_uid_list(const std::string& text, const std::string& what);

// The uid of the process at the other end of a connected Unix socket; none when the kernel does
// not say.
std::optional<uid_t> peer_uid(int fd);

}  // namespace hades::server
