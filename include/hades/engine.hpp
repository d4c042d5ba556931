// hades::ModelEngine and hades::HaystackModelEngine — the seed's engine interface, in C++.
//
//   hades::HaystackModelEngine engine;           // the service at HADES_MODEL_MGR_SOCKET
//   engine.start();                              // returns once the service accepts connections
//   engine.load_model("sentence-transformers/all-MiniLM-L6-v2");
//   for (const hades::LoadedModel& m : engine.get_loaded_models()) ...
//   engine.stop();
//
// or, as the seed's context manager, a scope that stops the service when it ends (also by an
// exception):
//
//   hades::ServiceScope scope;                   // starts the service if it is not running
//   scope->load_model("sentence-transformers/all-MiniLM-L6-v2");
//
// The service is the `hades serve` process on a Unix socket; the engine starts it as a daemon,
// talks to it through a ModelClient and stops it with SIGTERM. Errors are hades::Error.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hades/client.hpp"
#include "hades/error.hpp"
#include "hades/types.hpp"

namespace hades {

// The engine interface of the seed (`src/model_engine/base.py`): service lifecycle and models.
class ModelEngine {
 public:
  virtual ~ModelEngine() = default;

  // Starts the service; returns once it accepts connections. Already running is a success.
  virtual StartResult start() = 0;
  // Stops the service and waits until it has exited. Not running is a success.
  virtual StopResult stop() = 0;
  virtual StartResult restart() = 0;   // stop, then start
  virtual ServiceStatus status() = 0;  // never throws for "not running": running is false

  virtual LoadedModel load_model(const std::string& model_id,
                                 const LoadModelOptions& options = {}) = 0;
  virtual void unload_model(const std::string& model_id) = 0;
  virtual std::vector<LoadedModel> get_loaded_models() = 0;
  virtual HealthStatus health_check() = 0;  // never throws: an unreachable service is unhealthy

  virtual EmbeddingResult embed(const std::string& model_id, const std::vector<std::string>& texts,
                                const EmbeddingOptions& options = {}) = 0;
  virtual TokenizationResult tokenize(const std::string& model_id,
                                      const std::vector<std::string>& texts,
                                      const TokenizeOptions& options = {}) = 0;

  // Classifier models: sequence classification (of pairs too), cross-encoder reranking, token
  // classification, and chonky's semantic chunking (see ModelClient).
  virtual ClassificationResult classify(const std::string& model_id,
                                        const std::vector<std::string>& texts,
                                        const std::vector<std::string>& pairs = {}) = 0;
  virtual RerankResult rerank(const std::string& model_id, const std::string& query,
                              const std::vector<std::string>& documents,
                              const RerankOptions& options = {}) = 0;
  virtual TokenClassificationResult token_classify(const std::string& model_id,
                                                   const std::vector<std::string>& texts,
                                                   int64_t max_length = 0) = 0;
  virtual ChunkingResult chunk(const std::string& model_id, const std::vector<std::string>& texts,
                               const ChunkingOptions& options = {}) = 0;

 protected:
  ModelEngine() = default;
  ModelEngine(const ModelEngine&) = default;
  ModelEngine& operator=(const ModelEngine&) = default;
};

// The client-side engine of the seed: the service on a Unix socket, started on demand.
class HaystackModelEngine final : public ModelEngine {
 public:
  explicit HaystackModelEngine(ClientOptions options = {});
  ~HaystackModelEngine() override;
  HaystackModelEngine(HaystackModelEngine&&) noexcept;
  HaystackModelEngine& operator=(HaystackModelEngine&&) noexcept;

  StartResult start() override;
  StopResult stop() override;
  StartResult restart() override;
  ServiceStatus status() override;

  LoadedModel load_model(const std::string& model_id,
                         const LoadModelOptions& options = {}) override;
  void unload_model(const std::string& model_id) override;
  std::vector<LoadedModel> get_loaded_models() override;
  HealthStatus health_check() override;

  EmbeddingResult embed(const std::string& model_id, const std::vector<std::string>& texts,
                        const EmbeddingOptions& options = {}) override;
  TokenizationResult tokenize(const std::string& model_id, const std::vector<std::string>& texts,
                              const TokenizeOptions& options = {}) override;
  ClassificationResult classify(const std::string& model_id, const std::vector<std::string>& texts,
                                const std::vector<std::string>& pairs = {}) override;
  RerankResult rerank(const std::string& model_id, const std::string& query,
                      const std::vector<std::string>& documents,
                      const RerankOptions& options = {}) override;
  TokenClassificationResult token_classify(const std::string& model_id,
                                           const std::vector<std::string>& texts,
                                           int64_t max_length = 0) override;
  ChunkingResult chunk(const std::string& model_id, const std::vector<std::string>& texts,
                       const ChunkingOptions& options = {}) override;

  ModelClient& client();  // for routes the engine interface does not name
  const std::string& socket_path() const;

 private:
  std::unique_ptr<ModelClient> client_;
};

struct ServiceScopeOptions {
  // false (the seed's way): the scope always stops the service at its end. true: only when the
  // scope itself started it, so that a service someone else runs is left alone.
  bool stop_only_if_started = false;
};

// The seed's context manager: starts the service if it is not running and stops it when the scope
// ends, normally or by an exception. Stopping errors at the end are reported on stderr, never
// thrown from the destructor.
class ServiceScope {
 public:
  explicit ServiceScope(ClientOptions options = {}, ServiceScopeOptions scope_options = {});
  // Uses ENGINE, which must outlive the scope.
  explicit ServiceScope(HaystackModelEngine& engine, ServiceScopeOptions scope_options = {});
  ~ServiceScope();
  ServiceScope(const ServiceScope&) = delete;
  ServiceScope& operator=(const ServiceScope&) = delete;

  HaystackModelEngine& engine() { return *engine_; }
  HaystackModelEngine* operator->() { return engine_; }
  const StartResult& started() const { return started_; }

 private:
  std::unique_ptr<HaystackModelEngine> owned_;
  HaystackModelEngine* engine_;
  ServiceScopeOptions scope_options_;
  StartResult started_;
};

}  // namespace hades
