// The API key that requests on the TCP listener must carry (`Authorization: Bearer KEY`).
//
// Only the key's SHA-256 digest is kept. A presented token is hashed and the two digests, always
// 32 bytes, are compared without an early exit, so the time a check takes says nothing about how
// much of a guess was right. The key itself never reaches a log line, a status answer or an error
// message: errors name where the key came from, not what it is.
#pragma once

#include <array>
#include <filesystem>
#include <string_view>

namespace hades::server {

class ApiKey {
 public:
  // KEY: 1 to 4,096 bytes of printable ASCII without spaces. SOURCE names its origin in errors
  // ("HADES_API_KEY", "--api-key-file /etc/hades/key"). invalid_argument otherwise.
  static ApiKey from_text(std::string_view key, std::string_view source);
  // The first line of PATH (a trailing newline is not part of the key).
  static ApiKey from_file(const std::filesystem::path& path);

  // Whether AUTHORIZATION, a request's header value, is "Bearer KEY" (the scheme in any case).
  bool accepts(std::string_view authorization) const;

 private:
  explicit ApiKey(const std::array<unsigned char, 32>& digest) : digest_(digest) {}
  std::array<unsigned char, 32> digest_;
};

}  // namespace hades::server
