// Fuzzes every JSON request body parser of the service (src/server/requests.cpp, and the OpenAI-
// and TEI-compatible ones of compat_requests.cpp): the first byte picks the route's parser, the
// rest is the body as the socket delivered it (bytes, not yet JSON), through parse_json_body as the
// router calls it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "server/compat_requests.hpp"
#include "server/requests.hpp"

namespace {

using hades::server::RequestLimits;

void parse_as(unsigned route, const nlohmann::json& body) {
  const RequestLimits limits{.max_inputs = 16};
  const std::string default_model = route & 0x80 ? "org/default" : "";
  switch (route % 14) {
    case 0: (void)hades::server::parse_embed_request(body, limits); break;
    case 1: (void)hades::server::parse_tokenize_request(body, limits); break;
    case 2: (void)hades::server::parse_load_request(body); break;
    case 3: (void)hades::server::parse_classify_request(body, limits); break;
    case 4: (void)hades::server::parse_rerank_request(body, limits); break;
    case 5: (void)hades::server::parse_chunk_request(body, limits); break;
    case 6: (void)hades::server::parse_unload_request(body); break;
    case 8: (void)hades::server::parse_openai_embed_request(body, limits, default_model); break;
    case 9: (void)hades::server::parse_tei_embed_request(body, limits, default_model); break;
    case 10: (void)hades::server::parse_tei_rerank_request(body, limits, default_model); break;
    case 11: (void)hades::server::parse_tei_predict_request(body, limits, default_model); break;
    case 12: (void)hades::server::parse_tei_tokenize_request(body, limits, default_model); break;
    case 13: (void)hades::server::parse_tei_decode_request(body, default_model); break;
    default:
      if (body.contains("pooling") && body["pooling"].is_string()) {
        (void)hades::server::parse_pooling_name(body["pooling"].get<std::string>());
      }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  hades::fuzz::expect_only_input_errors(
      [&] { parse_as(data[0], hades::server::parse_json_body(body)); });
  return 0;
}
