#include "server/responses.hpp"

#include <algorithm>
#include <cmath>

#include "hades/error.hpp"
#include "server/json_text.hpp"

namespace hades::server {

nlohmann::json model_info_json(const runtime::LoadedModel& info) {
  nlohmann::json out = {
      {"id", info.id},
      {"state", runtime::model_state_name(info.state)},
      {"device", info.device},
      {"kind", info.kind},
      {"model_type", info.model_type},
      {"dtype", info.dtype},
      {"memory_bytes", info.memory_bytes},
      {"pinned", info.pinned},
      {"dimension", info.dimension},
      {"max_sequence_length", info.max_sequence_length},
      {"requests", info.requests},
      {"in_flight", info.in_flight},
      {"idle_seconds", info.idle_seconds},
  };
  // Seconds, as Ollama shows it; -1: until evicted.
  out["keep_alive"] =
      info.keep_alive ? static_cast<double>(info.keep_alive->count()) / 1000.0 : -1.0;
  if (info.default_prompt_name) out["default_prompt_name"] = *info.default_prompt_name;
  if (!info.labels.empty()) out["labels"] = info.labels;
  if (!info.error.empty()) out["error"] = info.error;
  if (info.state == runtime::ModelState::downloading) {
    // A fraction for progress bars, and the bytes behind it.
    out["progress"] = info.download_total_bytes == 0
                          ? 0.0
                          : static_cast<double>(info.download_done_bytes) /
                                static_cast<double>(info.download_total_bytes);
    out["downloaded_bytes"] = info.download_done_bytes;
    out["total_bytes"] = info.download_total_bytes;
  }
  return out;
}

void append_embedding_rows(std::string& out, const runtime::EmbeddingResult& result) {
  // Written by hand rather than through nlohmann::json: a float stored as a json double prints
  // with 17 digits, twice the text of its shortest float form, and a reply can hold 1024 rows.
  const size_t dimension = static_cast<size_t>(result.dimension);
  out.reserve(out.size() + result.values.size() * 12 + 64);
  const size_t rows = dimension == 0 ? 0 : result.values.size() / dimension;
  out += '[';
  for (size_t row = 0; row < rows; ++row) {
    out += row == 0 ? "[" : ",[";
    for (size_t col = 0; col < dimension; ++col) {
      if (col != 0) out += ',';
      append_json_float(out, result.values[row * dimension + col]);
    }
    out += ']';
  }
  out += ']';
}

std::string embed_response_body(const runtime::EmbeddingResult& result) {
  std::string out = "{\"model\":" + dump_lenient(result.model) + ",\"embeddings\":";
  append_embedding_rows(out, result);
  out += ",\"dimension\":" + std::to_string(result.dimension) +
         ",\"usage\":{\"tokens\":" + std::to_string(result.tokens) + "}}";
  return out;
}

std::string tokenize_response_body(const runtime::TokenizationResult& result) {
  nlohmann::json encodings = nlohmann::json::array();
  for (const Encoding& e : result.encodings) {
    nlohmann::json offsets = nlohmann::json::array();
    for (const auto& [start, end] : e.offsets) offsets.push_back({start, end});
    encodings.push_back(
        {{"ids", e.ids}, {"tokens", e.tokens}, {"offsets", offsets}, {"type_ids", e.type_ids}});
  }
  return dump_lenient({{"model", result.model}, {"encodings", encodings}});
}

std::string classify_response_body(const runtime::ClassificationResult& result) {
  nlohmann::json results = nlohmann::json::array();
  for (const runtime::Classification& c : result.results) {
    if (c.scores.empty()) throw Error(ErrorCode::internal, result.model + " gave no label scores");
    nlohmann::json scores = nlohmann::json::array();
    for (const runtime::ClassScore& s : c.scores)
      scores.push_back({{"label", s.label}, {"score", s.score}});
    results.push_back(
        {{"label", c.scores.front().label}, {"score", c.scores.front().score}, {"scores", scores}});
  }
  return dump_lenient({{"model", result.model}, {"results", results}});
}

float relevance(const runtime::Classification& c, bool raw_score) {
  if (c.logits.empty()) throw Error(ErrorCode::internal, "a cross-encoder gave no logits");
  if (raw_score) return c.logits.back();
  if (c.logits.size() == 1) return 1.0f / (1.0f + std::exp(-c.logits[0]));
  const float max = *std::max_element(c.logits.begin(), c.logits.end());
  float sum = 0.0f;
  for (float l : c.logits) sum += std::exp(l - max);
  return std::exp(c.logits.back() - max) / sum;
}

std::vector<std::pair<size_t, float>> rank_by_relevance(const runtime::ClassificationResult& result,
                                                        bool raw_scores) {
  std::vector<std::pair<size_t, float>> ranked;
  for (size_t i = 0; i < result.results.size(); ++i) {
    ranked.emplace_back(i, relevance(result.results[i], raw_scores));
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return ranked;
}

std::string rerank_response_body(const runtime::ClassificationResult& result,
                                 const RerankRequest& request) {
  std::vector<std::pair<size_t, float>> ranked = rank_by_relevance(result, request.raw_scores);
  if (request.top_n && *request.top_n < ranked.size()) ranked.resize(*request.top_n);
  nlohmann::json results = nlohmann::json::array();
  for (const auto& [index, score] : ranked) {
    nlohmann::json hit = {{"index", index}, {"score", score}, {"relevance_score", score}};
    if (request.return_documents) hit["document"] = {{"text", request.pairs.pairs.at(index)}};
    results.push_back(std::move(hit));
  }
  return dump_lenient({{"model", result.model}, {"results", results}});
}

std::string token_classify_response_body(const runtime::TokenClassificationResult& result) {
  nlohmann::json results = nlohmann::json::array();
  for (const std::vector<runtime::EntitySpan>& entities : result.entities) {
    nlohmann::json list = nlohmann::json::array();
    for (const runtime::EntitySpan& e : entities) {
      list.push_back({{"label", e.label}, {"score", e.score}, {"start", e.start}, {"end", e.end}});
    }
    results.push_back(list);
  }
  return dump_lenient({{"model", result.model}, {"results", results}});
}

std::string chunk_response_body(const runtime::ChunkingResult& result) {
  nlohmann::json results = nlohmann::json::array();
  for (const runtime::ChunkedText& chunks : result.results) {
    nlohmann::json list = nlohmann::json::array();
    for (const runtime::TextChunk& c : chunks.chunks) {
      list.push_back(
          {{"text", c.text}, {"start", c.start}, {"end", c.end}, {"score", c.separator_score}});
    }
    results.push_back({{"chunks", list}, {"windows", chunks.windows}, {"tokens", chunks.tokens}});
  }
  return dump_lenient({{"model", result.model}, {"results", results}});
}

}  // namespace hades::server
