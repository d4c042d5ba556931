#include "hub/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <memory>
#include <mutex>

#include "core/version.hpp"
#include "hades/error.hpp"

namespace hades::hub {
namespace {

std::string to_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// curl_global_init is not thread-safe; the server resolves models from several threads.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  CURL* curl = nullptr;
  const BodySink* sink = nullptr;
  HttpResponse response;
  std::exception_ptr failure;  // thrown by the sink; rethrown once curl has returned
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  add_header_line(std::string_view(data, size * count), transfer->response.headers);
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  long status = 0;
  curl_easy_getinfo(transfer->curl, CURLINFO_RESPONSE_CODE, &status);
  if (transfer->sink == nullptr || !*transfer->sink || status < 200 || status > 299) {
    transfer->response.body.append(data, size * count);
    return size * count;
  }
  try {
    (*transfer->sink)(status, data, size * count);
  } catch (...) {
    // An exception must not unwind through libcurl's C frames: keep it, abort the transfer.
    transfer->failure = std::current_exception();
    return 0;
  }
  return size * count;
}

using CurlHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using CurlHeaders = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

}  // namespace

void add_header_line(std::string_view raw, std::map<std::string, std::string>& headers) {
  const std::string line(raw);
  // With redirects followed, each response's headers arrive in turn: keep the last one's.
  if (line.rfind("HTTP/", 0) == 0) headers.clear();
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    headers[to_lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
}

uint64_t parse_byte_count(const std::string& text, const std::string& url) {
  // At most 18 digits: anything longer is no real file size, and would overflow stoull.
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(),
                   [](unsigned char c) { return std::isdigit(c) != 0; })) {
    throw Error(ErrorCode::io_error, url +
                                         " gave no usable file size (X-Linked-Size, "
                                         "Content-Length): '" +
                                         text.substr(0, 40) + "'");
  }
  return std::stoull(text);
}

std::string HttpResponse::header(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

std::string url_authority(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const size_t start = scheme + 3;
  const size_t end = url.find_first_of("/?#", start);
  return to_lower(url.substr(start, end == std::string::npos ? std::string::npos : end - start));
}

HttpResponse http_request(const HttpRequest& request, const BodySink& sink) {
  init_curl_once();
  const CurlHandle curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw Error(ErrorCode::internal, "curl_easy_init failed");
  CurlHeaders headers(nullptr, &curl_slist_free_all);
  for (const std::string& header : request.headers) {
    curl_slist* appended = curl_slist_append(headers.get(), header.c_str());
    if (appended == nullptr) throw Error(ErrorCode::internal, "curl_slist_append failed");
    static_cast<void>(headers.release());
    headers.reset(appended);
  }
  Transfer transfer;
  transfer.curl = curl.get();
  transfer.sink = &sink;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_NOBODY, request.method == "HEAD" ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, (std::string("hades/") + kVersion).c_str());
  const std::string range = "bytes=" + std::to_string(request.range_from) + "-";
  if (request.range_from > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str() + 6);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  const CURLcode result = curl_easy_perform(c);
  if (transfer.failure) std::rethrow_exception(transfer.failure);
  if (result != CURLE_OK) {
    throw Error(ErrorCode::network_error, request.url + ": " + curl_easy_strerror(result) +
                                              " (curl " + std::to_string(static_cast<int>(result)) +
                                              ")");
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  return std::move(transfer.response);
}

}  // namespace hades::hub
