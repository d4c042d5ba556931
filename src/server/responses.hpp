// Engine results → response bodies (docs/protocol.md). Strings are serialized leniently
// (json_text.hpp).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/runtime.hpp"
#include "server/requests.hpp"

namespace hades::server {

// MODEL = {"id", "state", "device", "kind", "memory_bytes", "pinned", "error"?, "dimension",
// "max_sequence_length", "requests", "in_flight", "idle_seconds", "labels"?}; "error" only when
// there is one, "labels" only for classifiers.
nlohmann::json model_info_json(const runtime::LoadedModel& info);

// {"model", "embeddings": [[float…]…], "dimension", "usage": {"tokens"}}, floats in their
// shortest round-trip form.
std::string embed_response_body(const runtime::EmbeddingResult& result);
// The rows of RESULT as a JSON array of arrays, appended to OUT.
void append_embedding_rows(std::string& out, const runtime::EmbeddingResult& result);

// The relevance of one (query, document) pair: the sigmoid of a single logit (cross-encoders such
// as ms-marco-MiniLM), else the softmax probability of the last label; raw, that label's logit.
float relevance(const runtime::Classification& c, bool raw_score);

// {"model", "encodings": [{"ids", "tokens", "offsets", "type_ids"}…]}.
std::string tokenize_response_body(const runtime::TokenizationResult& result);

// {"model", "results": [{"label", "score", "scores": [{"label", "score"}…]}…]}
std::string classify_response_body(const runtime::ClassificationResult& result);
// The documents' indexes and relevance (see relevance()), best first; ties keep their order.
std::vector<std::pair<size_t, float>> rank_by_relevance(const runtime::ClassificationResult& result,
                                                        bool raw_scores);
// {"model", "results": [{"index", "score", "relevance_score", "document": {"text"}?}…]}, best
// first, the best top_n only when asked; score: sigmoid of a single logit, else the probability
// of the last label (the "relevant" one of two-label cross-encoders); with raw_scores that logit
// itself, as CrossEncoder.predict gives it without an activation. relevance_score is the same
// value under Cohere's and Jina's name.
std::string rerank_response_body(const runtime::ClassificationResult& result,
                                 const RerankRequest& request);
// {"model", "results": [[{"label", "score", "start", "end"}…]…]}
std::string token_classify_response_body(const runtime::TokenClassificationResult& result);
// {"model", "results": [{"chunks": [{"text", "start", "end", "score"}…], "windows", "tokens"}…]}
std::string chunk_response_body(const runtime::ChunkingResult& result);

}  // namespace hades::server
