#include "server/peer_credentials.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>

#include "hades/error.hpp"

namespace hades::server {

std::vector<uid_t> parse_uid_list(const std::string& text, const std::string& what) {
  std::vector<uid_t> uids;
  size_t start = 0;
  for (;;) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    const bool digits =
        !item.empty() && item.size() <= 10 && std::all_of(item.begin(), item.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        });
    // (uid_t)-1 is no user: chown and setreuid read it as "leave unchanged".
    if (!digits || std::stoull(item) >= static_cast<uid_t>(-1)) {
      std::string message = what;
      message.append(": '").append(item).append("' in '").append(text);
      message.append("' is not a user id; give uids separated by commas, e.g. 1000,1001");
      throw Error(ErrorCode::invalid_argument, message);
    }
    uids.push_back(static_cast<uid_t>(std::stoull(item)));
    if (end == text.size()) return uids;
    start = end + 1;
  }
}

std::optional<uid_t> peer_uid(int fd) {
  ucred peer{};
  socklen_t size = sizeof(peer);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) return std::nullopt;
  return peer.uid;
}

}  // namespace hades::server
