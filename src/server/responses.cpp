#include "server/responses.hpp"

#include "server/json_text.hpp"

namespace hades::server {

nlohmann::json model_info_json(const ModelInfo& info) {
  nlohmann::json out = {
      {"id", info.id},
      {"state", model_state_name(info.state)},
      {"device", info.device},
      {"kind", info.kind},
      {"memory_bytes", info.memory_bytes},
      {"pinned", info.pinned},
      {"dimension", info.dimension},
      {"max_sequence_length", info.max_sequence_length},
      {"requests", info.requests},
      {"in_flight", info.in_flight},
      {"idle_seconds", info.idle_seconds},
  };
  if (!info.labels.empty()) out["labels"] = info.labels;
  if (!info.error.empty()) out["error"] = info.error;
  return out;
}

std::string embed_response_body(const EmbedResult& result) {
  // Written by hand rather than through nlohmann::json: a float stored as a json double prints
  // with 17 digits, twice the text of its shortest float form, and a reply can hold 1024 rows.
  std::string out = "{\"model\":" + dump_lenient(result.model) + ",\"embeddings\":[";
  const size_t dimension = static_cast<size_t>(result.dimension);
  out.reserve(out.size() + result.values.size() * 12 + 64);
  const size_t rows = dimension == 0 ? 0 : result.values.size() / dimension;
  for (size_t row = 0; row < rows; ++row) {
    out += row == 0 ? "[" : ",[";
    for (size_t col = 0; col < dimension; ++col) {
      if (col != 0) out += ',';
      append_json_float(out, result.values[row * dimension + col]);
    }
    out += ']';
  }
  out += "],\"dimension\":" + std::to_string(result.dimension) +
         ",\"usage\":{\"tokens\":" + std::to_string(result.tokens) + "}}";
  return out;
}

std::string tokenize_response_body(const TokenizeResult& result) {
  nlohmann::json encodings = nlohmann::json::array();
  for (const Encoding& e : result.encodings) {
    nlohmann::json offsets = nlohmann::json::array();
    for (const auto& [start, end] : e.offsets) offsets.push_back({start, end});
    encodings.push_back(
        {{"ids", e.ids}, {"tokens", e.tokens}, {"offsets", offsets}, {"type_ids", e.type_ids}});
  }
  return dump_lenient({{"model", result.model}, {"encodings", encodings}});
}

}  // namespace hades::server
