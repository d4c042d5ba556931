#include "models/registry.hpp"

#include <functional>
#include <map>

#include "hades/error.hpp"
#include "io/json_file.hpp"
#include "io/weights.hpp"
#include "models/bert.hpp"

namespace hades {
namespace {

using EncoderLoader = std::function<std::unique_ptr<Encoder>(
    const nlohmann::json&, const std::string&, const WeightStore&, const Backend&)>;

const std::map<std::string, EncoderLoader>& loaders() {
  static const std::map<std::string, EncoderLoader> table = {
      {"bert", load_bert},
  };
  return table;
}

}  // namespace

const Backend& cpu_backend() {
  static const std::unique_ptr<Backend> backend = make_cpu_backend();
  return *backend;
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> names;
  for (const auto& [name, loader] : loaders()) names.push_back(name);
  return names;
}

std::unique_ptr<Encoder> load_encoder(const std::filesystem::path& dir, const Backend& backend) {
  check_no_remote_code(dir);
  const std::filesystem::path config_path = dir / "config.json";
  const nlohmann::json config = read_json_file(config_path);
  const std::string source = config_path.string();
  const JsonFields fields(config, source);
  const std::string model_type = fields.get_string("model_type");
  const auto it = loaders().find(model_type);
  if (it == loaders().end()) {
    std::string supported;
    for (const std::string& name : supported_model_types()) {
      supported += (supported.empty() ? "" : ", ") + name;
    }
    throw Error(ErrorCode::unsupported, source + ": model_type '" + model_type +
                                            "' is not supported; supported: " + supported);
  }
  const WeightStore weights = WeightStore::open_folder(dir);
  return it->second(config, source, weights, backend);
}

}  // namespace hades
