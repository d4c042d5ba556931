#include "client/wire.hpp"

#include <nlohmann/json.hpp>

namespace hades::client {
namespace {

using nlohmann::json;

// What an error answer without an error body means: the code its status stands for
// (include/hades/error.hpp).
ErrorCode code_for_status(int status) {
  for (const ErrorCodeInfo& info : kErrorCodes) {
    if (info.http_status == status && info.role == ErrorStatusRole::stands_for_status) {
      return info.code;
    }
  }
  return ErrorCode::internal;
}

json parse_answer(const std::string& body, const char* route) {
  json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) {
    throw Error(ErrorCode::io_error, std::string("the service's answer to ") + route +
                                         " is not a JSON object: '" + body.substr(0, 200) + "'");
  }
  return value;
}

// Runs READ on the parsed answer; a field of the wrong type becomes an io_error naming ROUTE.
template <typename Read>
auto read_answer(const std::string& body, const char* route, Read read) {
  const json value = parse_answer(body, route);
  try {
    return read(value);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::io_error,
                std::string("unexpected answer from the service to ") + route + ": " + e.what());
  }
}

template <typename T>
T field(const json& object, const char* name, T fallback = T{}) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return fallback;
  return it->get<T>();
}

LoadedModel model_from_json(const json& m) {
  LoadedModel model;
  model.id = field<std::string>(m, "id");
  model.state = field<std::string>(m, "state");
  model.device = field<std::string>(m, "device");
  model.kind = field<std::string>(m, "kind");
  model.model_type = field<std::string>(m, "model_type");
  model.dtype = field<std::string>(m, "dtype");
  model.memory_bytes = field<uint64_t>(m, "memory_bytes");
  model.pinned = field<bool>(m, "pinned");
  model.error = field<std::string>(m, "error");
  model.progress = field<double>(m, "progress");
  model.downloaded_bytes = field<uint64_t>(m, "downloaded_bytes");
  model.total_bytes = field<uint64_t>(m, "total_bytes");
  model.dimension = field<int64_t>(m, "dimension");
  model.max_sequence_length = field<int64_t>(m, "max_sequence_length");
  model.requests = field<uint64_t>(m, "requests");
  model.in_flight = field<int64_t>(m, "in_flight");
  model.idle_seconds = field<double>(m, "idle_seconds");
  model.keep_alive_seconds = field<double>(m, "keep_alive", -1.0);
  model.default_prompt_name = field<std::string>(m, "default_prompt_name");
  return model;
}

std::vector<LoadedModel> models_from_json(const json& object) {
  std::vector<LoadedModel> models;
  if (const auto it = object.find("models"); it != object.end() && !it->is_null()) {
    for (const json& m : *it) models.push_back(model_from_json(m));
  }
  return models;
}

std::map<std::string, std::string> fields_as_text(const json& object, const char* name) {
  std::map<std::string, std::string> out;
  if (const auto it = object.find(name); it != object.end() && it->is_object()) {
    for (const auto& [key, value] : it->items()) out[key] = value.dump();
  }
  return out;
}

json inputs_json(const std::string& model_id, const std::vector<std::string>& texts) {
  return {{"model", model_id}, {"inputs", texts}};
}

// JSON text must be UTF-8, so an input that is not cannot be sent; it is refused here with the
// code the service gives such input.
std::string dump_inputs_request(const json& body) {
  try {
    return body.dump();
  } catch (const json::type_error& e) {
    throw Error(ErrorCode::input_invalid, std::string("an input is not valid UTF-8: ") + e.what());
  }
}

}  // namespace

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
  for (const ErrorCodeInfo& info : kErrorCodes) {
    if (info.name == name) return info.code;
  }
  return std::nullopt;
}

Error error_from_response(const HttpResponse& response, std::string_view what) {
  const json value = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (value.is_object() && value.contains("error") && value["error"].is_object()) {
    const json& error = value["error"];
    const std::string name = error.value("code", "");
    const std::string message = error.contains("message") && error["message"].is_string()
                                    ? error["message"].get<std::string>()
                                    : "(no message)";
    return Error(error_code_from_name(name).value_or(code_for_status(response.status)), message);
  }
  return Error(code_for_status(response.status),
               "the service answered " + std::string(what) + " with HTTP " +
                   std::to_string(response.status) + ": '" + response.body.substr(0, 200) + "'");
}

std::string load_request_json(const std::string& model_id, const LoadModelOptions& options) {
  json body = {{"model", model_id}, {"pin", options.pin}};
  if (!options.device.empty()) body["device"] = options.device;
  if (!options.dtype.empty()) body["dtype"] = options.dtype;
  if (!options.keep_alive.empty()) body["keep_alive"] = options.keep_alive;
  if (!options.default_prompt_name.empty()) {
    body["default_prompt_name"] = options.default_prompt_name;
  }
  return dump_inputs_request(body);
}

std::string unload_request_json(const std::string& model_id) {
  return dump_inputs_request(json{{"model", model_id}});
}

namespace {

// The fields embed and embed_sparse share: truncation and prompts.
template <typename Options>
json text_inputs_json(const std::string& model_id, const std::vector<std::string>& texts,
                      const Options& options) {
  json body = inputs_json(model_id, texts);
  body["truncate"] = options.truncate;
  if (!options.truncation_direction.empty()) {
    body["truncation_direction"] = options.truncation_direction;
  }
  if (options.prompt) body["prompt"] = *options.prompt;
  if (!options.prompt_name.empty()) body["prompt_name"] = options.prompt_name;
  return body;
}

}  // namespace

std::string embed_request_json(const std::string& model_id, const std::vector<std::string>& texts,
                               const EmbeddingOptions& options) {
  json body = text_inputs_json(model_id, texts, options);
  if (options.normalize) body["normalize"] = *options.normalize;
  if (!options.pooling.empty()) body["pooling"] = options.pooling;
  if (options.dimensions > 0) body["dimensions"] = options.dimensions;
  return dump_inputs_request(body);
}

std::string embed_sparse_request_json(const std::string& model_id,
                                      const std::vector<std::string>& texts,
                                      const SparseEmbeddingOptions& options) {
  return dump_inputs_request(text_inputs_json(model_id, texts, options));
}

std::string tokenize_request_json(const std::string& model_id,
                                  const std::vector<std::string>& texts,
                                  const TokenizeOptions& options) {
  json body = inputs_json(model_id, texts);
  body["add_special_tokens"] = options.add_special_tokens;
  return dump_inputs_request(body);
}

std::string classify_request_json(const std::string& model_id,
                                  const std::vector<std::string>& texts,
                                  const std::vector<std::string>& pairs) {
  json body = inputs_json(model_id, texts);
  if (!pairs.empty()) body["pairs"] = pairs;
  return dump_inputs_request(body);
}

std::string rerank_request_json(const std::string& model_id, const std::string& query,
                                const std::vector<std::string>& documents,
                                const RerankOptions& options) {
  json body = {{"model", model_id}, {"query", query}, {"documents", documents}};
  if (options.raw_scores) body["raw_scores"] = true;
  return dump_inputs_request(body);
}

std::string token_classify_request_json(const std::string& model_id,
                                        const std::vector<std::string>& texts, int64_t max_length) {
  json body = inputs_json(model_id, texts);
  if (max_length > 0) body["max_length"] = max_length;
  return dump_inputs_request(body);
}

std::string chunk_request_json(const std::string& model_id, const std::vector<std::string>& texts,
                               const ChunkingOptions& options) {
  json body = inputs_json(model_id, texts);
  if (options.max_length > 0) body["max_length"] = options.max_length;
  if (!options.clean.empty()) body["clean"] = options.clean;
  if (options.snap_to_whitespace) body["snap_to_whitespace"] = true;
  return dump_inputs_request(body);
}

HealthStatus parse_health(const std::string& body) {
  return read_answer(body, "GET /health", [](const json& v) {
    HealthStatus health;
    health.status = field<std::string>(v, "status");
    health.healthy = health.status == "ok";
    health.version = field<std::string>(v, "version");
    health.uptime_seconds = field<double>(v, "uptime_seconds");
    if (!health.healthy) health.message = "the service reports status '" + health.status + "'";
    return health;
  });
}

ServiceStatus parse_status(const std::string& body) {
  return read_answer(body, "GET /v1/status", [](const json& v) {
    ServiceStatus status;
    status.running = field<bool>(v, "running", true);
    status.pid = field<int64_t>(v, "pid");
    status.socket = field<std::string>(v, "socket");
    status.version = field<std::string>(v, "version");
    status.uptime_seconds = field<double>(v, "uptime_seconds");
    status.device = field<std::string>(v, "device");
    status.device_note = field<std::string>(v, "device_note");
    if (const auto tcp = v.find("tcp"); tcp != v.end() && tcp->is_object()) {
      status.tcp_addresses = field<std::vector<std::string>>(*tcp, "addresses");
      status.tcp_api_key = field<bool>(*tcp, "api_key");
    }
    status.models = models_from_json(v);
    status.limits = fields_as_text(v, "limits");
    status.stats = fields_as_text(v, "stats");
    return status;
  });
}

LoadedModel parse_load_answer(const std::string& body) {
  return read_answer(body, "POST /v1/models/load",
                     [](const json& v) { return model_from_json(v.at("model")); });
}

std::vector<LoadedModel> parse_models(const std::string& body) {
  return read_answer(body, "GET /v1/models", [](const json& v) { return models_from_json(v); });
}

EmbeddingResult parse_embedding(const std::string& body) {
  return read_answer(body, "POST /v1/embed", [](const json& v) {
    EmbeddingResult result;
    result.model = field<std::string>(v, "model");
    result.embeddings = v.at("embeddings").get<std::vector<std::vector<float>>>();
    result.dimension = field<int64_t>(
        v, "dimension",
        result.embeddings.empty() ? 0 : static_cast<int64_t>(result.embeddings.front().size()));
    if (const auto usage = v.find("usage"); usage != v.end() && usage->is_object()) {
      result.tokens = field<int64_t>(*usage, "tokens");
    }
    return result;
  });
}

SparseEmbeddingResult parse_sparse_embedding(const std::string& body) {
  return read_answer(body, "POST /v1/embed-sparse", [](const json& v) {
    SparseEmbeddingResult result;
    result.model = field<std::string>(v, "model");
    result.dimension = field<int64_t>(v, "dimension");
    for (const json& row : v.at("embeddings")) {
      result.embeddings.push_back({row.at("indices").get<std::vector<int64_t>>(),
                                   row.at("values").get<std::vector<float>>()});
    }
    if (const auto usage = v.find("usage"); usage != v.end() && usage->is_object()) {
      result.tokens = field<int64_t>(*usage, "tokens");
    }
    return result;
  });
}

TokenizationResult parse_tokenization(const std::string& body) {
  return read_answer(body, "POST /v1/tokenize", [](const json& v) {
    TokenizationResult result;
    result.model = field<std::string>(v, "model");
    for (const json& e : v.at("encodings")) {
      TokenEncoding encoding;
      encoding.ids = field<std::vector<int64_t>>(e, "ids");
      encoding.tokens = field<std::vector<std::string>>(e, "tokens");
      encoding.offsets = field<std::vector<std::pair<int64_t, int64_t>>>(e, "offsets");
      encoding.type_ids = field<std::vector<int64_t>>(e, "type_ids");
      result.encodings.push_back(std::move(encoding));
    }
    return result;
  });
}

ClassificationResult parse_classification(const std::string& body) {
  return read_answer(body, "POST /v1/classify", [](const json& v) {
    ClassificationResult result;
    result.model = field<std::string>(v, "model");
    for (const json& r : v.at("results")) {
      Classification c{field<std::string>(r, "label"), field<float>(r, "score"), {}};
      for (const json& s : r.at("scores")) {
        c.scores.push_back({field<std::string>(s, "label"), field<float>(s, "score")});
      }
      result.results.push_back(std::move(c));
    }
    return result;
  });
}

RerankResult parse_rerank(const std::string& body) {
  return read_answer(body, "POST /v1/rerank", [](const json& v) {
    RerankResult result;
    result.model = field<std::string>(v, "model");
    for (const json& r : v.at("results")) {
      result.results.push_back({field<size_t>(r, "index"), field<float>(r, "score")});
    }
    return result;
  });
}

TokenClassificationResult parse_token_classification(const std::string& body) {
  return read_answer(body, "POST /v1/token-classify", [](const json& v) {
    TokenClassificationResult result;
    result.model = field<std::string>(v, "model");
    for (const json& list : v.at("results")) {
      std::vector<EntitySpan>& spans = result.entities.emplace_back();
      for (const json& e : list) {
        spans.push_back({field<std::string>(e, "label"), field<float>(e, "score"),
                         field<int64_t>(e, "start"), field<int64_t>(e, "end")});
      }
    }
    return result;
  });
}

ChunkingResult parse_chunking(const std::string& body) {
  return read_answer(body, "POST /v1/chunk", [](const json& v) {
    ChunkingResult result;
    result.model = field<std::string>(v, "model");
    for (const json& r : v.at("results")) {
      ChunkedText& chunked = result.results.emplace_back();
      for (const json& c : r.at("chunks")) {
        chunked.chunks.push_back({field<std::string>(c, "text"), field<int64_t>(c, "start"),
                                  field<int64_t>(c, "end"), field<float>(c, "score")});
      }
      chunked.windows = field<int64_t>(r, "windows");
      chunked.tokens = field<int64_t>(r, "tokens");
    }
    return result;
  });
}

}  // namespace hades::client
