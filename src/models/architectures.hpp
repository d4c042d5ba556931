// The architecture files' entry points, one per file (bert.cpp, distilbert.cpp, modernbert.cpp,
// xlm_roberta.cpp, which holds RoBERTa too, qwen3.cpp, nomic_bert.cpp, gte.cpp), called by the
// registry with a folder's parsed config and weights.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "compute/backend.hpp"
#include "io/weights.hpp"
#include "models/heads.hpp"

namespace hades {

struct ModelLoadContext {
  const nlohmann::json& config;
  const std::string& config_source;  // the config file's path, for messages
  const WeightStore& weights;
  const Backend& backend;
  ModelTask task = ModelTask::base;
  int64_t num_labels = 0;  // for heads
};

ModelParts load_bert(const ModelLoadContext& context);
ModelParts load_distilbert(const ModelLoadContext& context);
ModelParts load_modernbert(const ModelLoadContext& context);
ModelParts load_roberta(const ModelLoadContext& context);
ModelParts load_xlm_roberta(const ModelLoadContext& context);
ModelParts load_qwen3(const ModelLoadContext& context);
ModelParts load_nomic_bert(const ModelLoadContext& context);
ModelParts load_gte(const ModelLoadContext& context);

}  // namespace hades
