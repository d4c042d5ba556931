// Request bodies → the engine's request structs, with strict types (docs/protocol.md).
//
// Every violation is an Error naming the field: invalid_argument (400) for malformed JSON, wrong
// types, missing or unknown fields, unknown values and empty `inputs`; too_large (413) for more
// `inputs` than the server takes; input_invalid (422) for text that is not valid Unicode.
// Optional fields may be null, which means "not given".
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/runtime.hpp"

namespace hades::server {

struct RequestLimits {
  size_t max_inputs = 1024;
};

struct LoadRequest {
  std::string model;
  runtime::LoadModelOptions options;
};

// Parses a request body that must be one JSON object. Bytes that are not UTF-8 and \u escapes
// that name lone surrogates are input_invalid (422), other syntax errors invalid_argument (400).
nlohmann::json parse_json_body(std::string_view body);

runtime::EmbedRequest parse_embed_request(const nlohmann::json& body, const RequestLimits& limits);
runtime::TokenizeRequest parse_tokenize_request(const nlohmann::json& body,
                                                const RequestLimits& limits);
LoadRequest parse_load_request(const nlohmann::json& body);
// {"model", "inputs", "pairs"?}: pairs, when given, hold one second text per input.
runtime::ClassifyRequest parse_classify_request(const nlohmann::json& body,
                                                const RequestLimits& limits);
// A rerank request: one (query, document) pair per document, and how the scores are reported.
struct RerankRequest {
  runtime::ClassifyRequest pairs;
  bool raw_scores = false;        // the model's logit instead of its probability
  std::optional<size_t> top_n;    // only the best N results (Cohere's and Jina's field)
  bool return_documents = false;  // each result carries its document's text
};

// {"model", "query", "documents": [TEXT…], "raw_scores"?, "top_n"?, "return_documents"?}.
RerankRequest parse_rerank_request(const nlohmann::json& body, const RequestLimits& limits);
// {"model", "inputs", "max_length"?}.
runtime::TokenClassifyRequest parse_token_classify_request(const nlohmann::json& body,
                                                           const RequestLimits& limits);
// {"model", "inputs", "max_length"?, "clean"?, "snap_to_whitespace"?}.
runtime::ChunkRequest parse_chunk_request(const nlohmann::json& body, const RequestLimits& limits);
// The model id of an unload request.
std::string parse_unload_request(const nlohmann::json& body);

// "cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken" → the mode; invalid_argument
// otherwise.
PoolingMode parse_pooling_name(std::string_view name);

}  // namespace hades::server
