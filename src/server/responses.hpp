// Engine results → response bodies (docs/protocol.md). Strings are serialized leniently
// (json_text.hpp).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/engine.hpp"

namespace hades::server {

// MODEL = {"id", "state", "device", "kind", "memory_bytes", "pinned", "error"?, "dimension",
// "max_sequence_length", "requests", "in_flight", "idle_seconds", "labels"?}; "error" only when
// there is one, "labels" only for classifiers.
nlohmann::json model_info_json(const ModelInfo& info);

// {"model", "embeddings": [[float…]…], "dimension", "usage": {"tokens"}}, floats in their
// shortest round-trip form.
std::string embed_response_body(const EmbedResult& result);

// {"model", "encodings": [{"ids", "tokens", "offsets", "type_ids"}…]}.
std::string tokenize_response_body(const TokenizeResult& result);

}  // namespace hades::server
