#include "server/api_key.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <string>

#include "hades/error.hpp"

namespace hades::server {
namespace {

constexpr size_t kMaxKeyBytes = 4096;
constexpr std::string_view kScheme = "bearer ";

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

bool starts_with_scheme(std::string_view value) {
  if (value.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = value[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) return false;
  }
  return true;
}

}  // namespace

ApiKey ApiKey::from_text(std::string_view key, std::string_view source) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    throw Error(ErrorCode::invalid_argument, std::string(source) + ": the API key must be 1 to " +
                                                 std::to_string(kMaxKeyBytes) +
                                                 " bytes long, got " + std::to_string(key.size()));
  }
  for (const char c : key) {
    if (c <= ' ' || c > '~') {
      throw Error(ErrorCode::invalid_argument,
                  std::string(source) +
                      ": the API key must be printable ASCII without spaces (it travels in an "
                      "HTTP header)");
    }
  }
  return ApiKey(sha256(key));
}

ApiKey ApiKey::from_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    throw Error(ErrorCode::invalid_argument,
                "--api-key-file " + path.string() + ": cannot be read");
  }
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return from_text(line, "--api-key-file " + path.string());
}

bool ApiKey::accepts(std::string_view authorization) const {
  // The digest of whatever was presented is compared in full, so a request without the scheme
  // costs the same as a wrong key.
  const bool scheme = starts_with_scheme(authorization);
  const std::array<unsigned char, 32> presented =
      sha256(scheme ? authorization.substr(kScheme.size()) : std::string_view());
  const bool same = CRYPTO_memcmp(presented.data(), digest_.data(), digest_.size()) == 0;
  return scheme && same;
}

}  // namespace hades::server
