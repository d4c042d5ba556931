#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "compute/backend.hpp"
#include "io/weights.hpp"
#include "models/encoder.hpp"

namespace hades {

// Builds a BERT encoder from its parsed config.json and weights (see bert.cpp).
std::unique_ptr<Encoder> load_bert(const nlohmann::json& config, const std::string& config_source,
                                   const WeightStore& weights, const Backend& backend);

}  // namespace hades
