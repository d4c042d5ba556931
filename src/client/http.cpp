#include "client/http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "hades/error.hpp"

namespace hades::client {
namespace {

[[noreturn]] void malformed(const std::string& what) {
  throw Error(ErrorCode::io_error, "malformed HTTP response from the service: " + what);
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

[[noreturn]] void too_large() {
  throw Error(ErrorCode::too_large,
              "the service's response is larger than " + std::to_string(kMaxBodyBytes) + " bytes");
}

size_t parse_size(std::string_view text, int base, const char* what) {
  size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    malformed(std::string(what) + " '" + std::string(text) + "'");
  }
  if (value > kMaxBodyBytes) too_large();
  return value;
}

// "HTTP/1.1 200 OK" → 200, and whether the version keeps connections alive by default.
int parse_status_line(std::string_view line, bool& keep_alive_default) {
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') {
    malformed("status line '" + std::string(line.substr(0, 80)) + "'");
  }
  keep_alive_default = line.substr(5, 3) == "1.1";
  return static_cast<int>(parse_size(line.substr(9, 3), 10, "status code"));
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

std::string format_request(std::string_view method, std::string_view target,
                           std::string_view body) {
  std::string out;
  out.reserve(128 + body.size());
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  out.append("Host: localhost\r\nUser-Agent: hades-client\r\nAccept: application/json\r\n");
  if (!body.empty() || method == "POST") {
    out.append("Content-Type: application/json\r\nContent-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

bool ResponseParser::parse_head() {
  const size_t end = buffer_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (buffer_.size() > kMaxHeaderBytes) malformed("headers longer than 64 KiB");
    return false;
  }
  std::string_view head(buffer_.data(), end);
  size_t line_end = head.find("\r\n");
  bool keep_alive = true;
  response_.status = parse_status_line(head.substr(0, line_end), keep_alive);
  bool chunked = false;
  std::optional<size_t> length;
  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) malformed("header line '" + std::string(line) + "'");
    std::string name = lower(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    if (name == "content-length") length = parse_size(value, 10, "Content-Length");
    if (name == "transfer-encoding") chunked = lower(value).find("chunked") != std::string::npos;
    if (name == "connection") {
      const std::string options = lower(value);
      if (options.find("close") != std::string::npos) keep_alive = false;
      if (options.find("keep-alive") != std::string::npos) keep_alive = true;
    }
    response_.headers.emplace_back(std::move(name), std::move(value));
  }
  response_.keep_alive = keep_alive;
  body_kind_ = chunked  ? BodyKind::chunked
               : length ? BodyKind::content_length
                        : BodyKind::until_close;
  content_length_ = length.value_or(0);
  if (body_kind_ == BodyKind::until_close) response_.keep_alive = false;
  buffer_.erase(0, end + 4);
  header_end_ = end + 4;
  return true;
}

bool ResponseParser::parse_chunks() {
  for (;;) {
    const size_t line_end = buffer_.find("\r\n", chunk_offset_);
    if (line_end == std::string::npos) return false;
    std::string_view size_text(buffer_.data() + chunk_offset_, line_end - chunk_offset_);
    size_text = trim(size_text.substr(0, size_text.find(';')));  // chunk extensions are ignored
    const size_t size = parse_size(size_text, 16, "chunk size");
    if (size == 0) {
      // The last chunk; trailers (ignored) end with an empty line.
      return buffer_.find("\r\n\r\n", line_end) != std::string::npos;
    }
    if (response_.body.size() + size > kMaxBodyBytes) too_large();
    if (buffer_.size() < line_end + 2 + size + 2) return false;
    response_.body.append(buffer_, line_end + 2, size);
    chunk_offset_ = line_end + 2 + size + 2;
  }
}

bool ResponseParser::feed(std::string_view bytes) {
  if (done_) return true;
  buffer_.append(bytes);
  if (header_end_ == 0) {
    if (!parse_head()) return false;
    // An informational answer (100 Continue) precedes the real one.
    if (response_.status >= 100 && response_.status < 200) {
      std::string rest = std::move(buffer_);
      *this = ResponseParser();
      return feed(rest);
    }
  }
  switch (body_kind_) {
    case BodyKind::content_length:
      if (buffer_.size() < content_length_) return false;
      response_.body = buffer_.substr(0, content_length_);
      break;
    case BodyKind::chunked:
      if (!parse_chunks()) return false;
      break;
    case BodyKind::until_close:
      if (buffer_.size() > kMaxBodyBytes) too_large();
      return false;
  }
  done_ = true;
  return true;
}

void ResponseParser::finish_on_close() {
  if (done_) return;
  if (header_end_ == 0) malformed("the connection closed in the middle of the headers");
  if (body_kind_ != BodyKind::until_close) {
    malformed("the connection closed before the end of the body");
  }
  response_.body = std::move(buffer_);
  done_ = true;
}

std::optional<HttpResponse> exchange(int fd, std::string_view request, Deadline deadline,
                                     std::string_view what) {
  // A server may answer early and close (e.g. a body over its limit): read even if sending failed.
  write_all(fd, request, deadline, what);
  ResponseParser parser;
  std::string buffer(size_t{64} * 1024, '\0');
  for (;;) {
    const size_t got = read_some(fd, buffer.data(), buffer.size(), deadline, what);
    if (got == 0) {
      if (!parser.started()) return std::nullopt;
      parser.finish_on_close();
      return parser.take();
    }
    if (parser.feed(std::string_view(buffer.data(), got))) return parser.take();
  }
}

}  // namespace hades::client
