// Fuzzes what the service does with the bytes of one request before the engine sees it: Beast's
// HTTP/1.1 request parser configured with the server's limits (src/server/http_server.cpp reads
// requests with http::request_parser<string_body>, header_limit and body_limit), then the route's
// path, then its JSON body parser (src/server/requests.cpp), as Router::handle chains them.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "server/api_key.hpp"
#include "server/compat_requests.hpp"
#include "server/requests.hpp"
#include "server/router.hpp"
#include "server/server_options.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using hades::server::RequestLimits;

// The parser of the route's body, as Router's table pairs them (POST routes only).
void parse_body(std::string_view path, std::string_view text) {
  const RequestLimits limits{.max_inputs = 16};
  const nlohmann::json body = hades::server::parse_json_body(text);
  if (path == "/v1/embed") (void)hades::server::parse_embed_request(body, limits);
  if (path == "/v1/tokenize") (void)hades::server::parse_tokenize_request(body, limits);
  if (path == "/v1/models/load") (void)hades::server::parse_load_request(body);
  if (path == "/v1/models/unload") (void)hades::server::parse_unload_request(body);
  if (path == "/v1/classify") (void)hades::server::parse_classify_request(body, limits);
  if (path == "/v1/rerank") (void)hades::server::parse_rerank_request(body, limits);
  if (path == "/v1/token-classify" || path == "/v1/chunk") {
    (void)hades::server::parse_chunk_request(body, limits);
  }
  // Other servers' APIs, with a default model as a service started with --default-model has.
  const std::string model = "org/default";
  if (path == "/v1/embeddings")
    (void)hades::server::parse_openai_embed_request(body, limits, model);
  if (path == "/embed" || path == "/") {
    (void)hades::server::parse_tei_embed_request(body, limits, model);
    (void)hades::server::parse_tei_predict_request(body, limits, model);
  }
  if (path == "/rerank") (void)hades::server::parse_tei_rerank_request(body, limits, model);
  if (path == "/predict") (void)hades::server::parse_tei_predict_request(body, limits, model);
  if (path == "/tokenize") (void)hades::server::parse_tei_tokenize_request(body, limits, model);
  if (path == "/decode") (void)hades::server::parse_tei_decode_request(body, model);
}

// The TCP listener's key check runs on every request's Authorization header, whatever it holds.
const hades::server::ApiKey& fuzz_key() {
  static const hades::server::ApiKey key =
      hades::server::ApiKey::from_text("fuzz-key-0123456789", "fuzz");
  return key;
}

// "Bearer KEY" with the scheme in any case (RFC 9110: the scheme is case-insensitive), the key
// exactly.
bool is_the_key(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  constexpr std::string_view kKey = "fuzz-key-0123456789";
  if (authorization.size() != kScheme.size() + kKey.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  return authorization.substr(kScheme.size()) == kKey;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const hades::server::ServerOptions options;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
  parser.body_limit(options.max_body_bytes);
  parser.eager(true);
  // Fed as the socket would, possibly in pieces: put() consumes what it can of each call.
  beast::error_code ec;
  std::size_t offset = 0;
  while (offset < size && !parser.is_done()) {
    const std::size_t used = parser.put(boost::asio::buffer(data + offset, size - offset), ec);
    if (ec == http::error::need_more) break;
    if (ec || used == 0) return 0;
    offset += used;
  }
  if (!parser.is_done()) return 0;
  const auto& request = parser.get();
  const std::string_view method = request.method_string();
  const std::string_view path = hades::server::target_path(request.target());
  const auto authorization = request[http::field::authorization];
  const std::string_view presented(authorization.data(), authorization.size());
  if (fuzz_key().accepts(presented) && !is_the_key(presented)) {
    __builtin_trap();  // a header that is not the key opened the door
  }
  if (method == "POST") {
    hades::fuzz::expect_only_input_errors([&] { parse_body(path, request.body()); });
  }
  return 0;
}
