// hades::ModelClient — talks to a running hades service over its Unix socket (HTTP/1.1 + JSON,
// docs/protocol.md).
//
//   hades::ModelClient client;                       // HADES_MODEL_MGR_SOCKET or the default
//   client.load_model("sentence-transformers/all-MiniLM-L6-v2");
//   hades::EmbeddingResult e = client.embed("sentence-transformers/all-MiniLM-L6-v2", {"hi"});
//
// Errors are hades::Error: the service's own errors keep their code (model_not_found, overloaded,
// ...); no service on the socket is connection_refused. With autostart on
// (HADES_RUNTIME_AUTOSTART=1, the default) a model call that finds no service starts one — at most
// one per socket however many clients race — and retries; health() and status() never start a
// service.
//
// A model id is a Hugging Face id ("org/name") or a model folder; a folder given by a relative path
// is sent as an absolute one, since the service does not share the caller's working folder.
//
// One client may be used from many threads at once; it keeps idle connections for reuse.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hades/error.hpp"
#include "hades/types.hpp"

namespace hades {

inline constexpr const char* kDefaultSocketPath = "/tmp/hades_model_mgr.sock";

struct ClientOptions {
  std::string socket_path;        // empty: HADES_MODEL_MGR_SOCKET, else kDefaultSocketPath
  std::optional<bool> autostart;  // empty: HADES_RUNTIME_AUTOSTART ("1" by default)
  std::chrono::milliseconds connect_timeout{10'000};
  // health and status, which the service answers at once; a hung service fails them quickly.
  std::chrono::milliseconds control_timeout{30'000};
  // Loads of large models and long queues take a while; the service bounds its own work.
  std::chrono::milliseconds request_timeout{600'000};
  // An `overloaded` answer (429) is retried this often, after the Retry-After it names.
  int overloaded_retries = 5;
  std::chrono::milliseconds start_timeout{60'000};  // until a started service accepts connections
  std::chrono::milliseconds stop_timeout{60'000};   // until a stopped service has exited
  std::string hades_binary;  // empty: HADES_BIN, beside this program, the build's, then PATH
};

// OPTIONS with every empty field filled from the environment; an invalid variable is an
// invalid_argument error naming it. A relative socket path is made absolute.
ClientOptions resolve_client_options(ClientOptions options = {});

class ModelClient {
 public:
  explicit ModelClient(ClientOptions options = {});
  ~ModelClient();
  ModelClient(ModelClient&&) noexcept;
  ModelClient& operator=(ModelClient&&) noexcept;
  ModelClient(const ModelClient&) = delete;
  ModelClient& operator=(const ModelClient&) = delete;

  const ClientOptions& options() const;  // resolved
  const std::string& socket_path() const;

  HealthStatus health();   // GET /health; connection_refused when no service runs
  ServiceStatus status();  // GET /v1/status; connection_refused when no service runs

  LoadedModel load_model(const std::string& model_id, const LoadModelOptions& options = {});
  void unload_model(const std::string& model_id);
  std::vector<LoadedModel> get_loaded_models();
  EmbeddingResult embed(const std::string& model_id, const std::vector<std::string>& texts,
                        const EmbeddingOptions& options = {});
  // A sparse (SPLADE) model's vectors, as sentence-transformers' SparseEncoder.encode.
  SparseEmbeddingResult embed_sparse(const std::string& model_id,
                                     const std::vector<std::string>& texts,
                                     const SparseEmbeddingOptions& options = {});
  TokenizationResult tokenize(const std::string& model_id, const std::vector<std::string>& texts,
                              const TokenizeOptions& options = {});

  // Classifier models. classify: one label per text, or per (text, pair) when `pairs` is given
  // (one per text); rerank: DOCUMENTS ordered by relevance to QUERY (a cross-encoder);
  // token_classify: labelled spans (the ner pipeline's "simple" aggregation); chunk: chonky's
  // semantic chunks. MAX_LENGTH 0 means the model's window.
  ClassificationResult classify(const std::string& model_id, const std::vector<std::string>& texts,
                                const std::vector<std::string>& pairs = {});
  RerankResult rerank(const std::string& model_id, const std::string& query,
                      const std::vector<std::string>& documents, const RerankOptions& options = {});
  TokenClassificationResult token_classify(const std::string& model_id,
                                           const std::vector<std::string>& texts,
                                           int64_t max_length = 0);
  ChunkingResult chunk(const std::string& model_id, const std::vector<std::string>& texts,
                       const ChunkingOptions& options = {});

  // Any route: sends METHOD TARGET with a JSON body (empty: none) and returns the JSON text of a
  // successful answer; an error answer is thrown as hades::Error. Autostarts like the model calls.
  std::string request(std::string_view method, std::string_view target,
                      std::string_view json_body = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hades
