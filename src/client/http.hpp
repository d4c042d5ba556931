// The client's HTTP/1.1: one request out, one response in, over a connected socket.
//
// Responses may arrive in any split (partial reads), with a Content-Length, chunked, or delimited
// by the peer closing the connection. Only what a JSON API needs: no pipelining, no upgrades.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/socket_io.hpp"

namespace hades::client {

inline constexpr size_t kMaxHeaderBytes = size_t{64} * 1024;
inline constexpr size_t kMaxBodyBytes = size_t{1} << 30;

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  bool keep_alive = true;  // false: the server closes the connection after this response

  // The value of header NAME (lower case), or empty.
  std::string header(std::string_view name) const;
};

// "METHOD TARGET HTTP/1.1" with Host, and a JSON body when BODY is not empty.
std::string format_request(std::string_view method, std::string_view target, std::string_view body);

// Parses one response from bytes fed in any split.
class ResponseParser {
 public:
  // Takes BYTES; true once a whole response has been read. Malformed bytes are an io_error.
  bool feed(std::string_view bytes);
  // The peer closed the connection: completes a body delimited by the close, else throws.
  void finish_on_close();
  bool started() const { return !buffer_.empty() || header_end_ != 0; }
  HttpResponse take() { return std::move(response_); }

 private:
  enum class BodyKind { content_length, chunked, until_close };
  bool parse_head();
  bool parse_chunks();

  std::string buffer_;
  size_t header_end_ = 0;  // bytes of the head, once parsed
  BodyKind body_kind_ = BodyKind::until_close;
  size_t content_length_ = 0;
  size_t chunk_offset_ = 0;  // where the next chunk-size line starts in buffer_
  bool done_ = false;
  HttpResponse response_;
};

// Sends REQUEST on FD and reads the response. nullopt when the peer closed the connection without
// answering a byte (a kept-alive connection the server had already closed: safe to send again).
// WHAT names the exchange in errors ("POST /v1/embed on /tmp/x.sock").
std::optional<HttpResponse> exchange(int fd, std::string_view request, Deadline deadline,
                                     std::string_view what);

}  // namespace hades::client
