// From a model folder's config.json to a loaded model: one row per architecture.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/backend.hpp"
#include "io/weights.hpp"
#include "models/encoder.hpp"
#include "models/heads.hpp"

namespace hades {

// The process-wide CPU backend packing linear layers at `precision`, shared by every model loaded
// at it. A precision this CPU lacks is invalid_argument naming what it lacks.
const Backend& cpu_backend(LinearPrecision precision = LinearPrecision::fp32);

// The model_type values of config.json that have an architecture file.
std::vector<std::string> supported_model_types();

// Reads DIR/config.json and the safetensors weights in DIR and builds the encoder and the head
// that config.json's "architectures" names (*ForTokenClassification, *ForSequenceClassification;
// anything else loads the bare encoder). Refuses remote code, pickle weights and unknown
// architectures with an error naming the file and the problem.
// TASK, when given, replaces the one config.json names (ModelTask::masked_lm: the head a
// SparseEncoder folder runs; unsupported for an architecture without one).
ModelParts load_model_parts(const std::filesystem::path& dir, const Backend& backend,
                            std::optional<ModelTask> task = std::nullopt);

// The same from a config already parsed and weights already opened (e.g. held in memory, as the
// fuzzers do). `config_source` names the config in error messages.
ModelParts load_model_parts(const nlohmann::json& config, const std::string& config_source,
                            const WeightStore& weights, const Backend& backend);

// The task a folder's config.json names (sentence-transformers folders: their Transformer
// module's).
ModelTask read_model_task(const std::filesystem::path& dir);

// The encoder alone (heads' weights, if any, are left unread).
std::unique_ptr<Encoder> load_encoder(const std::filesystem::path& dir, const Backend& backend);

}  // namespace hades
