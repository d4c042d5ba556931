// Engine results → the response bodies of the OpenAI- and TEI-compatible routes, in those
// servers' shapes (compat_requests.hpp has their requests), and their error bodies.
#pragma once

#include <string>
#include <vector>

#include "engine/runtime.hpp"
#include "hades/error.hpp"

namespace hades::server {

// {"object": "list", "data": [{"object": "embedding", "index", "embedding"}…], "model",
// "usage": {"prompt_tokens", "total_tokens"}}; with BASE64 each embedding is the base64 text of
// its little-endian float32 values.
std::string openai_embeddings_body(const runtime::EmbeddingResult& result, bool base64);
// {"error": {"message", "type", "param": null, "code"}}: OpenAI's shape, hades's code.
std::string openai_error_body(const Error& error);

// TEI: [[float…]…].
std::string tei_embed_body(const runtime::EmbeddingResult& result);
// TEI: [{"index", "score", "text"?}…], best first.
std::string tei_rerank_body(const runtime::ClassificationResult& result,
                            const std::vector<std::string>& texts, bool raw_scores,
                            bool return_text);
// TEI: [{"label", "score"}…] best first, per input; a list of those for a batch.
std::string tei_predict_body(const runtime::ClassificationResult& result, bool raw_scores,
                             bool batch);
// TEI: [[{"id", "text", "special", "start", "stop"}…]…], offsets in bytes of the input as TEI
// gives them; special tokens have no offsets.
std::string tei_tokenize_body(const runtime::TokenizationResult& result,
                              const std::vector<std::string>& inputs);
// TEI: {"model_id", "model_dtype", "model_type": {"embedding": {"pooling"}} or {"classifier":
// {"id2label", "label2id"}}, "max_input_length", "max_client_batch_size", "version", ...}.
std::string tei_info_body(const runtime::LoadedModel& model, const std::string& version,
                          size_t max_inputs, int64_t max_batch_tokens);
// TEI: {"error", "error_type"}.
std::string tei_error_body(const Error& error);

}  // namespace hades::server
