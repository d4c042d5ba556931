// The protocol's JSON (docs/protocol.md) to and from the public client types.
//
// Answers are read leniently — a missing optional field keeps its default, so an older or newer
// service still works — but a field of the wrong type is an io_error naming the answer.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/http.hpp"
#include "hades/error.hpp"
#include "hades/types.hpp"

namespace hades::client {

// The code whose error_code_name() is NAME.
std::optional<ErrorCode> error_code_from_name(std::string_view name);

// The hades::Error an error answer carries ({"error": {"code", "message"}}); an answer without that
// shape maps its HTTP status to a code and quotes the start of its body. WHAT names the request.
Error error_from_response(const HttpResponse& response, std::string_view what);

std::string load_request_json(const std::string& model_id, const LoadModelOptions& options);
std::string unload_request_json(const std::string& model_id);
std::string embed_request_json(const std::string& model_id, const std::vector<std::string>& texts,
                               const EmbeddingOptions& options);
std::string embed_sparse_request_json(const std::string& model_id,
                                      const std::vector<std::string>& texts,
                                      const SparseEmbeddingOptions& options);
std::string tokenize_request_json(const std::string& model_id,
                                  const std::vector<std::string>& texts,
                                  const TokenizeOptions& options);
std::string classify_request_json(const std::string& model_id,
                                  const std::vector<std::string>& texts,
                                  const std::vector<std::string>& pairs);
std::string rerank_request_json(const std::string& model_id, const std::string& query,
                                const std::vector<std::string>& documents,
                                const RerankOptions& options);
std::string token_classify_request_json(const std::string& model_id,
                                        const std::vector<std::string>& texts, int64_t max_length);
std::string chunk_request_json(const std::string& model_id, const std::vector<std::string>& texts,
                               const ChunkingOptions& options);

HealthStatus parse_health(const std::string& body);
ServiceStatus parse_status(const std::string& body);
LoadedModel parse_load_answer(const std::string& body);  // {"model": MODEL}
std::vector<LoadedModel> parse_models(const std::string& body);
EmbeddingResult parse_embedding(const std::string& body);
SparseEmbeddingResult parse_sparse_embedding(const std::string& body);
TokenizationResult parse_tokenization(const std::string& body);
ClassificationResult parse_classification(const std::string& body);
RerankResult parse_rerank(const std::string& body);
TokenClassificationResult parse_token_classification(const std::string& body);
ChunkingResult parse_chunking(const std::string& body);

}  // namespace hades::client
