#include "models/registry.hpp"

#include <map>

#include "hades/error.hpp"
#include "io/json_file.hpp"
#include "io/sentence_transformers.hpp"
#include "io/weights.hpp"
#include "models/architectures.hpp"

namespace hades {
namespace {

using ArchitectureLoader = ModelParts (*)(const ModelLoadContext&);

const std::map<std::string, ArchitectureLoader>& loaders() {
  static const std::map<std::string, ArchitectureLoader> table = {
      {"bert", load_bert},
      {"distilbert", load_distilbert},
      {"modernbert", load_modernbert},
      {"qwen3", load_qwen3},
      {"roberta", load_roberta},  // XLM-R's layers, a byte-level BPE tokenizer
      {"xlm-roberta", load_xlm_roberta},
      {"nomic_bert", load_nomic_bert},
      {"gte", load_gte},
      {"new", load_gte},  // gte-*-v1.5 as published, for Alibaba-NLP/new-impl's remote code
  };
  return table;
}

// Remote code that hades implements natively: a config.json of one of these model types whose
// auto_map names only classes of the published repository ("owner/repo--module.Class") loads on
// the native architecture; any other auto_map (a copy of the code in the folder, another
// repository) stays refused.
bool implements_remote_code(const nlohmann::json& config) {
  static const std::map<std::string, std::string> published = {
      {"nomic_bert", "nomic-ai/nomic-bert-2048--"},
      {"new", "Alibaba-NLP/new-impl--"},
  };
  const auto model_type = config.find("model_type");
  const auto auto_map = config.find("auto_map");
  if (model_type == config.end() || !model_type->is_string() || auto_map == config.end() ||
      !auto_map->is_object()) {
    return false;
  }
  const auto it = published.find(model_type->get<std::string>());
  if (it == published.end()) return false;
  for (const auto& [kind, target] : auto_map->items()) {
    if (!target.is_string() || target.get<std::string>().rfind(it->second, 0) != 0) return false;
  }
  return true;
}

void check_remote_code(const nlohmann::json& config, const std::string& source) {
  if (!implements_remote_code(config)) reject_remote_code(config, source);
}

// The task config.json's first "architectures" entry names, as transformers' Auto classes read it.
ModelTask task_of(const JsonFields& fields) {
  const nlohmann::json* architectures = fields.find("architectures");
  if (architectures == nullptr || !architectures->is_array() || architectures->empty() ||
      !(*architectures)[0].is_string()) {
    return ModelTask::base;
  }
  const std::string name = (*architectures)[0].get<std::string>();
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("ForTokenClassification")) return ModelTask::token_classification;
  if (ends_with("ForSequenceClassification")) return ModelTask::sequence_classification;
  return ModelTask::base;
}

// id2label as a vector by id; ids must be 0..n-1 (transformers' own convention).
std::vector<std::string> labels_of(const JsonFields& fields) {
  const nlohmann::json* id2label = fields.find("id2label");
  if (id2label == nullptr) return {};
  if (!id2label->is_object()) fields.fail("id2label", "must be an object of id → label");
  std::vector<std::string> labels(id2label->size());
  for (const auto& [key, value] : id2label->items()) {
    size_t id = labels.size();
    try {
      id = std::stoul(key);
    } catch (const std::exception&) {
    }
    if (id >= labels.size() || !value.is_string() || !labels[id].empty()) {
      fields.fail("id2label", "ids must be 0.." + std::to_string(labels.size() - 1) +
                                  " with string labels, got '" + key + "'");
    }
    labels[id] = value.get<std::string>();
  }
  return labels;
}

// What the registry reads from config.json before any weight: the architecture, task and labels.
struct ConfigHead {
  ArchitectureLoader loader = nullptr;
  ModelTask task = ModelTask::base;
  std::vector<std::string> labels;
};

ConfigHead read_config_head(const nlohmann::json& config, const std::string& source,
                            std::optional<ModelTask> task) {
  const JsonFields fields(config, source);
  const std::string model_type = fields.get_string("model_type");
  const auto it = loaders().find(model_type);
  if (it == loaders().end()) {
    std::string supported;
    for (const auto& [name, loader] : loaders()) {
      supported += (supported.empty() ? "" : ", ") + name;
    }
    throw Error(ErrorCode::unsupported, source + ": model_type '" + model_type +
                                            "' is not supported; supported: " + supported);
  }
  ConfigHead head{.loader = it->second, .task = task.value_or(task_of(fields))};
  if (head.task == ModelTask::masked_lm) return head;
  if (head.task != ModelTask::base) head.labels = labels_of(fields);
  if (head.task != ModelTask::base && head.labels.empty()) {
    fields.fail("id2label", "a classification model needs its labels");
  }
  return head;
}

ModelParts build_parts(const ConfigHead& head, const ModelLoadContext& context) {
  ModelParts parts = head.loader(context);
  if (head.task == ModelTask::masked_lm && !parts.masked_lm) {
    throw Error(ErrorCode::unsupported, context.config_source +
                                            ": hades has no masked-LM head for model_type '" +
                                            parts.encoder->architecture() +
                                            "' (it has BERT's, DistilBERT's and XLM-RoBERTa's)");
  }
  parts.task = head.task;
  parts.labels = head.labels;
  return parts;
}

}  // namespace

const Backend& cpu_backend(LinearPrecision precision) {
  switch (precision) {
    case LinearPrecision::int8: {
      static const std::unique_ptr<Backend> int8 =
          make_cpu_backend({.linear_precision = precision});
      return *int8;
    }
    case LinearPrecision::bf16: {
      // Throws on a CPU without bf16; the static is then left unset and the next call asks again.
      static const std::unique_ptr<Backend> bf16 =
          make_cpu_backend({.linear_precision = precision});
      return *bf16;
    }
    case LinearPrecision::fp32: break;
  }
  static const std::unique_ptr<Backend> fp32 = make_cpu_backend();
  return *fp32;
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> names;
  for (const auto& [name, loader] : loaders()) names.push_back(name);
  return names;
}

ModelParts load_model_parts(const std::filesystem::path& dir, const Backend& backend,
                            std::optional<ModelTask> task) {
  const std::filesystem::path config_path = dir / "config.json";
  const nlohmann::json config = read_json_file(config_path);
  const std::string source = config_path.string();
  check_remote_code(config, source);
  const std::filesystem::path tokenizer_config = dir / "tokenizer_config.json";
  std::error_code ignored;  // a file that cannot be read is the tokenizer's to report
  if (std::filesystem::exists(tokenizer_config, ignored)) {
    reject_remote_code(read_json_file(tokenizer_config), tokenizer_config.string());
  }
  // config.json's own errors (unknown model_type, missing labels) come before any about weights.
  const ConfigHead head = read_config_head(config, source, task);
  const WeightStore weights = WeightStore::open_folder(dir);
  return build_parts(head, {config, source, weights, backend, head.task,
                            static_cast<int64_t>(head.labels.size())});
}

ModelParts load_model_parts(const nlohmann::json& config, const std::string& config_source,
                            const WeightStore& weights, const Backend& backend) {
  check_remote_code(config, config_source);
  const ConfigHead head = read_config_head(config, config_source, std::nullopt);
  return build_parts(head, {config, config_source, weights, backend, head.task,
                            static_cast<int64_t>(head.labels.size())});
}

ModelTask read_model_task(const std::filesystem::path& dir) {
  const std::optional<SentenceTransformerConfig> st = read_sentence_transformer_config(dir);
  const std::filesystem::path config_path = (st ? st->transformer_dir : dir) / "config.json";
  const nlohmann::json config = read_json_file(config_path);
  return task_of(JsonFields(config, config_path.string()));
}

std::unique_ptr<Encoder> load_encoder(const std::filesystem::path& dir, const Backend& backend) {
  return load_model_parts(dir, backend).encoder;
}

}  // namespace hades
