// Fuzzes what src/hub exposes for the values the hub's answers carry: ETag / X-Linked-Etag →
// normalize_etag (the blob's name in the cache) and is_sha256_hex (whether it is a checksum),
// Location → url_authority (same host or not), the listing's commit → is_commit_hash and
// check_revision. The input is split into those values at newlines. The header lines themselves
// are parsed inside http_client.cpp (libcurl's header callback) and the sizes inside
// downloader.cpp; neither is exposed, so neither is reached from here.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "hub/hf_cache.hpp"
#include "hub/http_client.hpp"
#include "hub/repo_files.hpp"

namespace {

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size() && lines.size() < 3) {
    const size_t end = std::min(text.find('\n', start), text.size());
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  lines.resize(3);
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::string> values =
      split_lines(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string etag = hades::hub::normalize_etag(values[0]);
  // Normalizing only strips "W/" and quotes: it never makes a value longer.
  if (etag.size() > values[0].size()) std::abort();
  (void)hades::hub::is_sha256_hex(etag);
  (void)hades::hub::url_authority(values[1]);
  (void)hades::is_commit_hash(values[2]);
  hades::fuzz::expect_only_input_errors([&] { hades::check_revision(values[2]); });
  return 0;
}
