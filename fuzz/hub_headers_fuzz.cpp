// Fuzzes what src/hub exposes for the values the hub's answers carry: ETag / X-Linked-Etag →
// normalize_etag (the blob's name in the cache) and is_sha256_hex (whether it is a checksum),
// Location → url_authority (same host or not), the listing's commit → is_commit_hash and
// check_revision. The input's first three lines are those values; every further line is a raw
// header line of an answer, as libcurl's header callback hands it over (add_header_line), and
// the sizes the downloader reads from the result (Content-Length, X-Linked-Size) go through
// parse_byte_count, its etags through normalize_etag.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "hub/hf_cache.hpp"
#include "hub/http_client.hpp"
#include "hub/repo_files.hpp"

namespace {

// The lines of TEXT; the first three without their newline, the rest with it (a header line
// arrives with its CRLF).
std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const size_t keep = lines.size() < 3 ? end : std::min(end + 1, text.size());
    lines.emplace_back(text.substr(start, keep - start));
    start = end + 1;
  }
  if (lines.size() < 3) lines.resize(3);
  return lines;
}

// What the downloader reads from an answer's headers.
void read_answer(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> headers;
  for (size_t i = 3; i < lines.size(); ++i) hades::hub::add_header_line(lines[i], headers);
  for (const auto& [name, value] : headers) {
    // Names are stored lower case and trimmed; a value never grows.
    for (char c : name) {
      if (c >= 'A' && c <= 'Z') std::abort();
    }
    if (!name.empty() && (name.front() == ' ' || name.back() == ' ')) std::abort();
  }
  for (const char* size_header : {"content-length", "x-linked-size"}) {
    const auto it = headers.find(size_header);
    if (it == headers.end()) continue;
    hades::fuzz::expect_only_input_errors([&] {
      const uint64_t size = hades::hub::parse_byte_count(it->second, "http://hub/f");
      // Never more than 18 digits: no wrap-around is possible.
      if (size > 999'999'999'999'999'999ull) std::abort();
    });
  }
  if (const auto it = headers.find("x-linked-etag"); it != headers.end()) {
    (void)hades::hub::is_sha256_hex(hades::hub::normalize_etag(it->second));
  }
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
  read_answer(values);
  return 0;
}
