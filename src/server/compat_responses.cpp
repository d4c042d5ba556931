#include "server/compat_responses.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "server/json_text.hpp"
#include "server/responses.hpp"

namespace hades::server {
namespace {

using nlohmann::json;

std::string base64_of(const float* values, size_t count) {
  // x86-64 and every target hades builds for store floats little-endian, as OpenAI sends them.
  const auto* bytes = reinterpret_cast<const unsigned char*>(values);
  const size_t size = count * sizeof(float);
  std::string out(4 * ((size + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes, static_cast<int>(size));
  out.resize(static_cast<size_t>(std::max(written, 0)));
  return out;
}

// OpenAI's error "type" for a status: its SDKs read the status, people read the type.
const char* openai_error_type(ErrorCode code) {
  switch (code) {
    case ErrorCode::unauthorized: return "authentication_error";
    case ErrorCode::access_denied: return "permission_error";
    case ErrorCode::overloaded: return "rate_limit_error";
    case ErrorCode::internal:
    case ErrorCode::io_error:
    case ErrorCode::invalid_model:
    case ErrorCode::network_error:
    case ErrorCode::out_of_memory:
    case ErrorCode::loading:
    case ErrorCode::shutting_down: return "server_error";
    default: return "invalid_request_error";
  }
}

// TEI's error_type names, by what went wrong.
const char* tei_error_type(ErrorCode code) {
  switch (code) {
    case ErrorCode::overloaded: return "overloaded";
    case ErrorCode::input_invalid: return "tokenizer";
    case ErrorCode::invalid_argument:
    case ErrorCode::too_large:
    case ErrorCode::unsupported:
    case ErrorCode::model_not_found:
    case ErrorCode::method_not_allowed:
    case ErrorCode::not_found: return "validation";
    case ErrorCode::unauthorized: return "unauthorized";
    default: return "backend";
  }
}

// Code points → UTF-8 byte offsets of TEXT, for every position up to its end.
std::vector<int64_t> byte_offsets(const std::string& text) {
  std::vector<int64_t> offsets;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80)
      offsets.push_back(static_cast<int64_t>(i));
  }
  offsets.push_back(static_cast<int64_t>(text.size()));
  return offsets;
}

}  // namespace

std::string openai_embeddings_body(const runtime::EmbeddingResult& result, bool base64) {
  const size_t dimension = static_cast<size_t>(result.dimension);
  const size_t rows = dimension == 0 ? 0 : result.values.size() / dimension;
  std::string out = "{\"object\":\"list\",\"data\":[";
  out.reserve(result.values.size() * (base64 ? 6 : 12) + 128);
  for (size_t row = 0; row < rows; ++row) {
    out += row == 0 ? "" : ",";
    out += "{\"object\":\"embedding\",\"index\":" + std::to_string(row) + ",\"embedding\":";
    const float* values = result.values.data() + row * dimension;
    if (base64) {
      out += '"' + base64_of(values, dimension) + '"';
    } else {
      out += '[';
      for (size_t col = 0; col < dimension; ++col) {
        if (col != 0) out += ',';
        append_json_float(out, values[col]);
      }
      out += ']';
    }
    out += '}';
  }
  const std::string tokens = std::to_string(result.tokens);
  out += "],\"model\":" + dump_lenient(result.model) + ",\"usage\":{\"prompt_tokens\":" + tokens +
         ",\"total_tokens\":" + tokens + "}}";
  return out;
}

std::string openai_error_body(const Error& error) {
  return dump_lenient({{"error",
                        {{"message", error.what()},
                         {"type", openai_error_type(error.code())},
                         {"param", nullptr},
                         {"code", error_code_name(error.code())}}}});
}

std::string tei_embed_body(const runtime::EmbeddingResult& result) {
  std::string out;
  append_embedding_rows(out, result);
  return out;
}

std::string tei_rerank_body(const runtime::ClassificationResult& result,
                            const std::vector<std::string>& texts, bool raw_scores,
                            bool return_text) {
  json out = json::array();
  for (const auto& [index, score] : rank_by_relevance(result, raw_scores)) {
    json hit = {{"index", index}, {"score", score}};
    if (return_text) hit["text"] = texts.at(index);
    out.push_back(std::move(hit));
  }
  return dump_lenient(out);
}

std::string tei_predict_body(const runtime::ClassificationResult& result, bool raw_scores,
                             bool batch) {
  json out = json::array();
  for (const runtime::Classification& c : result.results) {
    json scores = json::array();
    if (raw_scores) {
      // The probabilities rise with the logits, so the k-th best label has the k-th largest.
      std::vector<float> logits = c.logits;
      std::sort(logits.begin(), logits.end(), std::greater<>());
      for (size_t k = 0; k < c.scores.size() && k < logits.size(); ++k) {
        scores.push_back({{"label", c.scores[k].label}, {"score", logits[k]}});
      }
    } else {
      for (const runtime::ClassScore& s : c.scores)
        scores.push_back({{"label", s.label}, {"score", s.score}});
    }
    out.push_back(std::move(scores));
  }
  return dump_lenient(batch ? out : out.at(0));
}

std::string tei_tokenize_body(const runtime::TokenizationResult& result,
                              const std::vector<std::string>& inputs) {
  json out = json::array();
  for (size_t i = 0; i < result.encodings.size(); ++i) {
    const Encoding& e = result.encodings[i];
    const std::string& text = inputs.at(i);
    const std::vector<int64_t> bytes = byte_offsets(text);
    json tokens = json::array();
    for (size_t t = 0; t < e.ids.size(); ++t) {
      const bool special = !e.special_tokens_mask.empty() && e.special_tokens_mask[t] != 0;
      json token = {{"id", e.ids[t]}, {"special", special}};
      if (special) {
        token.update({{"text", e.tokens[t]}, {"start", nullptr}, {"stop", nullptr}});
      } else {
        const int64_t start = bytes.at(static_cast<size_t>(e.offsets[t].first));
        const int64_t stop = bytes.at(static_cast<size_t>(e.offsets[t].second));
        token.update(
            {{"text", text.substr(static_cast<size_t>(start), static_cast<size_t>(stop - start))},
             {"start", start},
             {"stop", stop}});
      }
      tokens.push_back(std::move(token));
    }
    out.push_back(std::move(tokens));
  }
  return dump_lenient(out);
}

std::string tei_info_body(const runtime::LoadedModel& model, const std::string& version,
                          size_t max_inputs, int64_t max_batch_tokens) {
  json type;
  if (model.kind == "embedding") {
    std::string pooling;
    for (const PoolingMode mode : model.pooling) {
      if (!pooling.empty()) pooling += '+';
      pooling += pooling_mode_name(mode);
    }
    type = {{"embedding", {{"pooling", pooling}}}};
  } else {
    json id2label = json::object(), label2id = json::object();
    for (size_t i = 0; i < model.labels.size(); ++i) {
      id2label[std::to_string(i)] = model.labels[i];
      label2id[model.labels[i]] = i;
    }
    type = {{"classifier", {{"id2label", id2label}, {"label2id", label2id}}}};
  }
  return dump_lenient({{"model_id", model.id},
                       {"model_sha", nullptr},
                       {"model_dtype", model.dtype == "fp32" ? "float32" : model.dtype},
                       {"model_type", type},
                       {"max_input_length", model.max_sequence_length},
                       {"max_batch_tokens", max_batch_tokens},
                       {"max_client_batch_size", max_inputs},
                       {"auto_truncate", false},
                       {"version", version}});
}

std::string tei_error_body(const Error& error) {
  return dump_lenient({{"error", error.what()}, {"error_type", tei_error_type(error.code())}});
}

}  // namespace hades::server
