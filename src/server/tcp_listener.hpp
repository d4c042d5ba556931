// The optional TCP listener (`hades serve --listen HOST:PORT`, HADES_LISTEN), beside the socket.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/unique_fd.hpp"

namespace hades::server {

struct ListenAddress {
  std::string host;   // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 0;  // 0: any free port (the bound one is reported)
};

// "HOST:PORT", "[IPV6]:PORT" → the address; invalid_argument naming SOURCE and the value
// otherwise.
ListenAddress parse_listen_address(std::string_view text, std::string_view source);

struct TcpListening {
  UniqueFd fd;
  int family = 0;         // AF_INET or AF_INET6
  std::string address;    // as bound: "127.0.0.1:8080", "[::1]:8080"
  bool loopback = false;  // reachable from this machine only
};

// Binds and listens on ADDRESS (the first of its resolved addresses that binds); io_error or
// conflict (in use) naming it otherwise.
TcpListening listen_on_tcp(const ListenAddress& address);

}  // namespace hades::server
