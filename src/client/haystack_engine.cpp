#include <cstdio>
#include <exception>

#include "client/service.hpp"
#include "hades/engine.hpp"

namespace hades {

HaystackModelEngine::HaystackModelEngine(ClientOptions options)
    : client_(std::make_unique<ModelClient>(std::move(options))) {}
HaystackModelEngine::~HaystackModelEngine() = default;
HaystackModelEngine::HaystackModelEngine(HaystackModelEngine&&) noexcept = default;
HaystackModelEngine& HaystackModelEngine::operator=(HaystackModelEngine&&) noexcept = default;

StartResult HaystackModelEngine::start() {
  return client::start_service(client_->options());
}

StopResult HaystackModelEngine::stop() {
  return client::stop_service(client_->options());
}

StartResult HaystackModelEngine::restart() {
  stop();
  return start();
}

ServiceStatus HaystackModelEngine::status() {
  try {
    return client_->status();
  } catch (const Error& e) {
    if (e.code() != ErrorCode::connection_refused) throw;
  }
  ServiceStatus status;
  status.running = false;
  status.socket = client_->socket_path();
  // A daemon may hold the socket's lock while it starts up, before it accepts connections.
  status.pid = client::service_pid(client_->options()).value_or(0);
  return status;
}

LoadedModel HaystackModelEngine::load_model(const std::string& model_id,
                                            const LoadModelOptions& options) {
  return client_->load_model(model_id, options);
}

void HaystackModelEngine::unload_model(const std::string& model_id) {
  client_->unload_model(model_id);
}

std::vector<LoadedModel> HaystackModelEngine::get_loaded_models() {
  return client_->get_loaded_models();
}

HealthStatus HaystackModelEngine::health_check() {
  try {
    return client_->health();
  } catch (const Error& e) {
    HealthStatus health;
    health.healthy = false;
    health.status = e.code() == ErrorCode::connection_refused ? "not running" : "error";
    health.message = e.what();
    return health;
  }
}

EmbeddingResult HaystackModelEngine::embed(const std::string& model_id,
                                           const std::vector<std::string>& texts,
                                           const EmbeddingOptions& options) {
  return client_->embed(model_id, texts, options);
}

TokenizationResult HaystackModelEngine::tokenize(const std::string& model_id,
                                                 const std::vector<std::string>& texts,
                                                 const TokenizeOptions& options) {
  return client_->tokenize(model_id, texts, options);
}

ClassificationResult HaystackModelEngine::classify(const std::string& model_id,
                                                   const std::vector<std::string>& texts,
                                                   const std::vector<std::string>& pairs) {
  return client_->classify(model_id, texts, pairs);
}

RerankResult HaystackModelEngine::rerank(const std::string& model_id, const std::string& query,
                                         const std::vector<std::string>& documents,
                                         const RerankOptions& options) {
  return client_->rerank(model_id, query, documents, options);
}

TokenClassificationResult HaystackModelEngine::token_classify(const std::string& model_id,
                                                              const std::vector<std::string>& texts,
                                                              int64_t max_length) {
  return client_->token_classify(model_id, texts, max_length);
}

ChunkingResult HaystackModelEngine::chunk(const std::string& model_id,
                                          const std::vector<std::string>& texts,
                                          const ChunkingOptions& options) {
  return client_->chunk(model_id, texts, options);
}

ModelClient& HaystackModelEngine::client() {
  return *client_;
}

const std::string& HaystackModelEngine::socket_path() const {
  return client_->socket_path();
}

ServiceScope::ServiceScope(ClientOptions options, ServiceScopeOptions scope_options)
    : owned_(std::make_unique<HaystackModelEngine>(std::move(options))),
      engine_(owned_.get()),
      scope_options_(scope_options),
      started_(engine_->start()) {}

ServiceScope::ServiceScope(HaystackModelEngine& engine, ServiceScopeOptions scope_options)
    : engine_(&engine), scope_options_(scope_options), started_(engine_->start()) {}

ServiceScope::~ServiceScope() {
  if (scope_options_.stop_only_if_started && started_.already_running) return;
  try {
    engine_->stop();
  } catch (const std::exception& e) {
    // A destructor may run during unwinding: report, never throw.
    std::fprintf(stderr, "hades: could not stop the service at %s: %s\n",
                 engine_->socket_path().c_str(), e.what());
  }
}

}  // namespace hades
