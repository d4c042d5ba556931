#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/http.hpp"
#include "client/service.hpp"
#include "client/socket_io.hpp"
#include "client/wire.hpp"
#include "hades/client.hpp"

namespace hades {
namespace {

using client::Deadline;
using client::HttpResponse;
using client::UniqueFd;

constexpr size_t kMaxIdleConnections = 16;
// After an autostart, a request that still finds no service is tried this often, with backoff.
constexpr int kAutostartAttempts = 6;

// control: health and status — a short deadline, and never a reason to start a service.
enum class CallKind { control, model };

// How long to wait before retrying an `overloaded` answer: its Retry-After, else a backoff.
std::chrono::milliseconds overloaded_delay(const HttpResponse& response, int retry) {
  const std::string retry_after = response.header("retry-after");
  if (!retry_after.empty() && retry_after.find_first_not_of("0123456789") == std::string::npos &&
      retry_after.size() < 4) {
    return std::chrono::seconds(std::stoi(retry_after));
  }
  return std::chrono::milliseconds(100) * (1 << std::min(retry, 5));
}

// A model id as the service must see it: a local folder named by a relative path becomes absolute,
// since the service runs from "/" (a folder comes first, as in Hugging Face's from_pretrained);
// anything else travels as it is.
std::string model_reference(const std::string& model_id) {
  std::error_code error;
  if (model_id.empty() || model_id.front() == '/' ||
      !std::filesystem::is_directory(model_id, error)) {
    return model_id;
  }
  return std::filesystem::absolute(model_id).lexically_normal().string();
}

}  // namespace

struct ModelClient::Impl {
  explicit Impl(ClientOptions given) : options(resolve_client_options(std::move(given))) {}

  // A kept-alive connection (true) or a new one (false).
  std::pair<UniqueFd, bool> take_connection(Deadline deadline) {
    {
      const std::lock_guard lock(idle_mutex);
      if (!idle.empty()) {
        UniqueFd fd = std::move(idle.back());
        idle.pop_back();
        return {std::move(fd), true};
      }
    }
    const Deadline connect_deadline =
        std::min(deadline, client::deadline_after(options.connect_timeout));
    return {client::connect_unix(options.socket_path, connect_deadline), false};
  }

  void keep(UniqueFd fd) {
    const std::lock_guard lock(idle_mutex);
    if (idle.size() < kMaxIdleConnections) idle.push_back(std::move(fd));
  }

  HttpResponse roundtrip(const std::string& request, Deadline deadline, const std::string& what) {
    for (;;) {
      auto [fd, reused] = take_connection(deadline);
      auto response = client::exchange(fd.get(), request, deadline, what);
      if (!response) {
        // The server had closed this idle connection before reading the request: send it anew.
        if (reused) continue;
        throw Error(ErrorCode::io_error,
                    "the service closed the connection without answering " + what);
      }
      if (response->keep_alive) keep(std::move(fd));
      return std::move(*response);
    }
  }

  std::string send(std::string_view method, std::string_view target, std::string_view body,
                   Deadline deadline) {
    const std::string request = client::format_request(method, target, body);
    const std::string what =
        std::string(method) + " " + std::string(target) + " on " + options.socket_path;
    for (int retry = 0;; ++retry) {
      HttpResponse response = roundtrip(request, deadline, what);
      if (response.status >= 200 && response.status < 300) return std::move(response.body);
      Error error = client::error_from_response(response, what);
      const auto delay = overloaded_delay(response, retry);
      if (error.code() != ErrorCode::overloaded || retry >= options.overloaded_retries ||
          client::Clock::now() + delay >= deadline) {
        throw error;
      }
      std::this_thread::sleep_for(delay);
    }
  }

  std::string call(std::string_view method, std::string_view target, std::string_view body,
                   CallKind kind) {
    const auto timeout =
        kind == CallKind::control ? options.control_timeout : options.request_timeout;
    try {
      return send(method, target, body, client::deadline_after(timeout));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::connection_refused || kind == CallKind::control ||
          !options.autostart.value_or(false)) {
        throw;
      }
    }
    // Under the socket's start lock: however many clients get here at once, one daemon starts.
    client::start_service(options);
    for (int attempt = 1;; ++attempt) {
      try {
        return send(method, target, body, client::deadline_after(timeout));
      } catch (const Error& e) {
        if (e.code() != ErrorCode::connection_refused || attempt >= kAutostartAttempts) throw;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50) * (1 << attempt));
    }
  }

  const ClientOptions options;
  std::mutex idle_mutex;
  std::vector<UniqueFd> idle;
};

ModelClient::ModelClient(ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
ModelClient::~ModelClient() = default;
ModelClient::ModelClient(ModelClient&&) noexcept = default;
ModelClient& ModelClient::operator=(ModelClient&&) noexcept = default;

const ClientOptions& ModelClient::options() const {
  return impl_->options;
}
const std::string& ModelClient::socket_path() const {
  return impl_->options.socket_path;
}

HealthStatus ModelClient::health() {
  return client::parse_health(impl_->call("GET", "/health", "", CallKind::control));
}

ServiceStatus ModelClient::status() {
  return client::parse_status(impl_->call("GET", "/v1/status", "", CallKind::control));
}

LoadedModel ModelClient::load_model(const std::string& model_id, const LoadModelOptions& options) {
  return client::parse_load_answer(
      impl_->call("POST", "/v1/models/load",
                  client::load_request_json(model_reference(model_id), options), CallKind::model));
}

void ModelClient::unload_model(const std::string& model_id) {
  impl_->call("POST", "/v1/models/unload", client::unload_request_json(model_reference(model_id)),
              CallKind::model);
}

std::vector<LoadedModel> ModelClient::get_loaded_models() {
  return client::parse_models(impl_->call("GET", "/v1/models", "", CallKind::model));
}

EmbeddingResult ModelClient::embed(const std::string& model_id,
                                   const std::vector<std::string>& texts,
                                   const EmbeddingOptions& options) {
  return client::parse_embedding(impl_->call(
      "POST", "/v1/embed", client::embed_request_json(model_reference(model_id), texts, options),
      CallKind::model));
}

SparseEmbeddingResult ModelClient::embed_sparse(const std::string& model_id,
                                                const std::vector<std::string>& texts,
                                                const SparseEmbeddingOptions& options) {
  return client::parse_sparse_embedding(
      impl_->call("POST", "/v1/embed-sparse",
                  client::embed_sparse_request_json(model_reference(model_id), texts, options),
                  CallKind::model));
}

TokenizationResult ModelClient::tokenize(const std::string& model_id,
                                         const std::vector<std::string>& texts,
                                         const TokenizeOptions& options) {
  return client::parse_tokenization(impl_->call(
      "POST", "/v1/tokenize",
      client::tokenize_request_json(model_reference(model_id), texts, options), CallKind::model));
}

ClassificationResult ModelClient::classify(const std::string& model_id,
                                           const std::vector<std::string>& texts,
                                           const std::vector<std::string>& pairs) {
  return client::parse_classification(impl_->call(
      "POST", "/v1/classify",
      client::classify_request_json(model_reference(model_id), texts, pairs), CallKind::model));
}

RerankResult ModelClient::rerank(const std::string& model_id, const std::string& query,
                                 const std::vector<std::string>& documents,
                                 const RerankOptions& options) {
  return client::parse_rerank(
      impl_->call("POST", "/v1/rerank",
                  client::rerank_request_json(model_reference(model_id), query, documents, options),
                  CallKind::model));
}

TokenClassificationResult ModelClient::token_classify(const std::string& model_id,
                                                      const std::vector<std::string>& texts,
                                                      int64_t max_length) {
  return client::parse_token_classification(
      impl_->call("POST", "/v1/token-classify",
                  client::token_classify_request_json(model_reference(model_id), texts, max_length),
                  CallKind::model));
}

ChunkingResult ModelClient::chunk(const std::string& model_id,
                                  const std::vector<std::string>& texts,
                                  const ChunkingOptions& options) {
  return client::parse_chunking(impl_->call(
      "POST", "/v1/chunk", client::chunk_request_json(model_reference(model_id), texts, options),
      CallKind::model));
}

std::string ModelClient::request(std::string_view method, std::string_view target,
                                 std::string_view json_body) {
  return impl_->call(method, target, json_body, CallKind::model);
}

}  // namespace hades
