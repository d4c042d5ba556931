// The request bodies of the routes that speak other servers' APIs, read into the engine's
// requests: OpenAI's embeddings (POST /v1/embeddings) and Hugging Face text-embeddings-
// inference's (TEI: POST /, /embed, /rerank, /predict, /tokenize, /decode). Their fields and
// defaults are those servers' (TEI's `truncate` is false, its `normalize` true), and fields they
// would ignore are ignored, as clients of those servers send them. A body without `model` uses
// the service's default model (--default-model); without one it is invalid_argument. Their
// inference requests wait their turn in the queue rather than meet the queue-delay bound's 429,
// which those APIs' clients retry only a few times.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/runtime.hpp"
#include "server/requests.hpp"

namespace hades::server {

// The model of a request: its `model` field, else DEFAULT_MODEL.
std::string compat_model(const nlohmann::json& body, const std::string& default_model);

struct OpenAiEmbedRequest {
  runtime::EmbedRequest embed;
  bool base64 = false;                // encoding_format "base64": little-endian float32 bytes
  std::optional<int64_t> dimensions;  // Matryoshka: the first N values, normalized again
};
// {"model", "input": TEXT | [TEXT…] | [ID…] | [[ID…]…], "encoding_format"?, "dimensions"?,
// "user"?}. Token ids are the model's, special tokens included; over the model's limit they are
// invalid_argument, as OpenAI refuses an overlong input.
OpenAiEmbedRequest parse_openai_embed_request(const nlohmann::json& body,
                                              const RequestLimits& limits,
                                              const std::string& default_model);

// {"inputs": TEXT | [TEXT…] | [ID…] | [[ID…]…], "normalize"? (true), "truncate"? (false),
// "truncation_direction"? ("right", "left"), "prompt_name"?, "dimensions"?, "model"?}.
runtime::EmbedRequest parse_tei_embed_request(const nlohmann::json& body,
                                              const RequestLimits& limits,
                                              const std::string& default_model);

struct TeiRerankRequest {
  runtime::ClassifyRequest pairs;  // (query, text) per text
  bool raw_scores = false;
  bool return_text = false;
};
// {"query", "texts": [TEXT…], "raw_scores"?, "return_text"?, "truncate"?, "model"?}.
TeiRerankRequest parse_tei_rerank_request(const nlohmann::json& body, const RequestLimits& limits,
                                          const std::string& default_model);

struct TeiPredictRequest {
  runtime::ClassifyRequest classify;
  bool raw_scores = false;  // logits instead of probabilities
  bool batch = false;       // inputs came as a list: the answer is a list per input
};
// {"inputs": TEXT | [TEXT, TEXT] (a pair) | [TEXT | [TEXT] | [TEXT, TEXT], …], "raw_scores"?,
// "truncate"?, "model"?}.
TeiPredictRequest parse_tei_predict_request(const nlohmann::json& body, const RequestLimits& limits,
                                            const std::string& default_model);

// {"inputs": TEXT | [TEXT…], "add_special_tokens"? (true), "model"?}.
runtime::TokenizeRequest parse_tei_tokenize_request(const nlohmann::json& body,
                                                    const RequestLimits& limits,
                                                    const std::string& default_model);

// {"ids": [ID…] | [[ID…]], "skip_special_tokens"? (true), "model"?}.
runtime::DecodeRequest parse_tei_decode_request(const nlohmann::json& body,
                                                const std::string& default_model);

}  // namespace hades::server
