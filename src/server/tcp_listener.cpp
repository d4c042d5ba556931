#include "server/tcp_listener.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

#include "core/os_error.hpp"
#include "hades/error.hpp"

namespace hades::server {
namespace {

constexpr int kListenBacklog = 512;

[[noreturn]] void fail_address(std::string_view source, std::string_view text,
                               const std::string& problem) {
  throw Error(ErrorCode::invalid_argument, std::string(source) + " '" + std::string(text) + "': " +
                                               problem + " (expected HOST:PORT or [IPV6]:PORT)");
}

bool is_loopback(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
  if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
  // ::ffff:127.x.y.z
  return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
}

std::string describe_bound(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
    ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
  ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
  // Appended piece by piece: GCC 12's -Wrestrict misfires on "[" + std::string(...).
  std::string text = "[";
  text.append(host).append("]:").append(std::to_string(ntohs(v6->sin6_port)));
  return text;
}

struct AddrInfoFree {
  void operator()(addrinfo* list) const { ::freeaddrinfo(list); }
};

}  // namespace

ListenAddress parse_listen_address(std::string_view text, std::string_view source) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) fail_address(source, text, "no port");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    fail_address(source, text, "an IPv6 address goes in brackets");
  }
  if (host.empty()) fail_address(source, text, "no host");
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    fail_address(source, text, "the port must be a number from 0 to 65535");
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(port)};
}

TcpListening listen_on_tcp(const ListenAddress& address) {
  const std::string name = address.host + " port " + std::to_string(address.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (const int status = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found)) {
    throw Error(ErrorCode::invalid_argument,
                "cannot resolve listen address " + name + ": " + ::gai_strerror(status));
  }
  const std::unique_ptr<addrinfo, AddrInfoFree> list(found);
  int last_errno = 0;
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!fd) {
      last_errno = errno;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0 ||
        ::listen(fd.get(), kListenBacklog) != 0) {
      last_errno = errno;
      continue;
    }
    TcpListening listening{.family = a->ai_family,
                           .address = describe_bound(fd.get()),
                           .loopback = is_loopback(a->ai_addr)};
    listening.fd = std::move(fd);
    return listening;
  }
  throw Error(last_errno == EADDRINUSE ? ErrorCode::conflict : ErrorCode::io_error,
              os_error("cannot listen on " + name, last_errno));
}

}  // namespace hades::server
