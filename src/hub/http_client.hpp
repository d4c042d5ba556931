// A small blocking HTTP client on libcurl, for the hub downloader: one request, its status and
// headers, its body either collected or handed to a sink (so that large files stream to disk).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hades::hub {

struct HttpRequest {
  std::string method = "GET";  // "GET" or "HEAD"
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  uint64_t range_from = 0;           // > 0 asks for the bytes from here on (Range: bytes=N-)
  bool follow_redirects = false;
  long connect_timeout_s = 10;
  // A transfer that receives nothing for this long is aborted (HF_HUB_DOWNLOAD_TIMEOUT).
  long stall_timeout_s = 10;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // of the last response; names in lower case
  std::string body;                            // collected unless a sink took a 2xx body
  // The value of a header (NAME in lower case), or "".
  std::string header(const std::string& name) const;
};

// Takes the body of a 2xx answer as it arrives, with that answer's status (200 or 206); other
// answers' bodies are collected in HttpResponse::body instead. May throw to abort the transfer:
// the exception comes out of http_request.
using BodySink = std::function<void(long status, const char* data, size_t size)>;

// One raw header line of an answer, as libcurl hands them (CRLF included), into HEADERS: a status
// line ("HTTP/…") starts a new response (after a redirect only the last one's headers count),
// "Name: value" is stored under the trimmed lower-case name, anything else is ignored.
void add_header_line(std::string_view line, std::map<std::string, std::string>& headers);

// A Content-Length / X-Linked-Size value as a byte count; an io_error naming URL and the value
// when it is not a plain decimal number of at most 18 digits.
uint64_t parse_byte_count(const std::string& text, const std::string& url);

// Performs REQUEST. A transport failure (no route, refused, reset, stalled, cut mid-body) is an
// Error with ErrorCode::network_error naming the URL; an HTTP error status is not an exception.
HttpResponse http_request(const HttpRequest& request, const BodySink& sink = {});

// "http://host:port/path" → "host:port" (lower case); "" when URL has no scheme.
std::string url_authority(const std::string& url);

}  // namespace hades::hub
