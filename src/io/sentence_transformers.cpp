#include "io/sentence_transformers.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "hades/error.hpp"
#include "io/folder_path.hpp"
#include "io/json_file.hpp"

namespace hades {

using nlohmann::json;

namespace {

constexpr std::string_view kPackagePrefix = "sentence_transformers.";

// masked_lm_transformer: SparseEncoder's MLMTransformer, a Transformer of transformer_task
// "fill-mask" by another name.
enum class ModuleKind {
  transformer,
  masked_lm_transformer,
  pooling,
  splade_pooling,
  normalize,
  dense
};

// The `type` that modules.json names each module hades knows by, as every sentence-transformers
// release writes it (SentenceTransformer.save: the class's Python module, then from 5.1 on its
// class name too), or as a hand-written file names the class through a package that exports it:
//   2.x-5.3  sentence_transformers.models.Pooling (models/Pooling.py; 5.x adds ".Pooling")
//   5.4-5.x  sentence_transformers.base.modules.transformer.Transformer,
//            sentence_transformers.sentence_transformer.modules.{pooling.Pooling,normalize.Normalize}
//   6.x      Normalize and Dense moved to sentence_transformers.base.modules.
// and SparseEncoder's:
//   5.0-5.3  sentence_transformers.sparse_encoder.models.{MLMTransformer,SpladePooling}
//   5.4-6.x  sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling, after the
//            base Transformer with transformer_task "fill-mask" (MLMTransformer, deprecated, stays
//            as sentence_transformers.sparse_encoder.modules.mlm_transformer.MLMTransformer).
struct KnownModule {
  std::string_view type;
  ModuleKind kind;
};
constexpr std::array<KnownModule, 29> kKnownModules = {{
    {"sentence_transformers.models.Transformer", ModuleKind::transformer},
    {"sentence_transformers.models.Transformer.Transformer", ModuleKind::transformer},
    {"sentence_transformers.base.modules.Transformer", ModuleKind::transformer},
    {"sentence_transformers.base.modules.transformer.Transformer", ModuleKind::transformer},
    {"sentence_transformers.sentence_transformer.modules.Transformer", ModuleKind::transformer},
    {"sentence_transformers.models.Pooling", ModuleKind::pooling},
    {"sentence_transformers.models.Pooling.Pooling", ModuleKind::pooling},
    {"sentence_transformers.sentence_transformer.modules.Pooling", ModuleKind::pooling},
    {"sentence_transformers.sentence_transformer.modules.pooling.Pooling", ModuleKind::pooling},
    {"sentence_transformers.models.Normalize", ModuleKind::normalize},
    {"sentence_transformers.models.Normalize.Normalize", ModuleKind::normalize},
    {"sentence_transformers.sentence_transformer.modules.Normalize", ModuleKind::normalize},
    {"sentence_transformers.sentence_transformer.modules.normalize.Normalize",
     ModuleKind::normalize},
    {"sentence_transformers.base.modules.Normalize", ModuleKind::normalize},
    {"sentence_transformers.base.modules.normalize.Normalize", ModuleKind::normalize},
    {"sentence_transformers.models.Dense", ModuleKind::dense},
    {"sentence_transformers.models.Dense.Dense", ModuleKind::dense},
    {"sentence_transformers.sentence_transformer.modules.Dense", ModuleKind::dense},
    {"sentence_transformers.base.modules.Dense", ModuleKind::dense},
    {"sentence_transformers.base.modules.dense.Dense", ModuleKind::dense},
    {"sentence_transformers.sparse_encoder.modules.Transformer", ModuleKind::transformer},
    {"sentence_transformers.sparse_encoder.models.MLMTransformer",
     ModuleKind::masked_lm_transformer},
    {"sentence_transformers.sparse_encoder.models.MLMTransformer.MLMTransformer",
     ModuleKind::masked_lm_transformer},
    {"sentence_transformers.sparse_encoder.modules.MLMTransformer",
     ModuleKind::masked_lm_transformer},
    {"sentence_transformers.sparse_encoder.modules.mlm_transformer.MLMTransformer",
     ModuleKind::masked_lm_transformer},
    {"sentence_transformers.sparse_encoder.models.SpladePooling", ModuleKind::splade_pooling},
    {"sentence_transformers.sparse_encoder.models.SpladePooling.SpladePooling",
     ModuleKind::splade_pooling},
    {"sentence_transformers.sparse_encoder.modules.SpladePooling", ModuleKind::splade_pooling},
    {"sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling",
     ModuleKind::splade_pooling},
}};

std::optional<ModuleKind> known_module_kind(std::string_view type) {
  for (const KnownModule& known : kKnownModules) {
    if (known.type == type) return known.kind;
  }
  return std::nullopt;
}

// The boolean keys of Pooling's config.json, in the order Pooling.forward concatenates outputs.
constexpr std::array<std::pair<std::string_view, PoolingMode>, 6> kPoolingFlags = {{
    {"pooling_mode_cls_token", PoolingMode::cls},
    {"pooling_mode_max_tokens", PoolingMode::max},
    {"pooling_mode_mean_tokens", PoolingMode::mean},
    {"pooling_mode_mean_sqrt_len_tokens", PoolingMode::mean_sqrt_len},
    {"pooling_mode_weightedmean_tokens", PoolingMode::weighted_mean},
    {"pooling_mode_lasttoken", PoolingMode::last_token},
}};

// Older sentence-transformers releases named this file after the architecture; the Transformer
// module reads the first that exists, in this order.
constexpr std::array<const char*, 7> kSentenceBertConfigNames = {
    "sentence_bert_config.json",       "sentence_roberta_config.json",
    "sentence_distilbert_config.json", "sentence_camembert_config.json",
    "sentence_albert_config.json",     "sentence_xlm-roberta_config.json",
    "sentence_xlnet_config.json",
};

struct Module {
  std::string type;
  std::string path;
  std::string label;  // "module 1 ('1_Pooling', sentence_transformers.models.Pooling)"
};

bool file_exists(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

std::vector<Module> read_modules(const std::filesystem::path& path) {
  const json document = read_json_file(path);
  const std::string source = path.string();
  if (!document.is_array()) {
    throw Error(ErrorCode::invalid_model,
                source + ": must be a JSON array of modules, got " + describe_json_value(document));
  }
  if (document.empty()) throw Error(ErrorCode::invalid_model, source + ": lists no modules");
  std::vector<Module> modules;
  for (std::size_t i = 0; i < document.size(); ++i) {
    // Errors name "[2].type". Built in place: GCC 12's -Wrestrict misfires on "[" + to_string(i).
    std::string position = std::to_string(i);
    position.insert(position.begin(), '[');
    position.push_back(']');
    const JsonFields fields(document[i], source, position);
    Module module{fields.get_string("type"), fields.find_string("path").value_or(""), ""};
    module.label = "module " + std::to_string(i) + " (" + quote_for_message(module.path) + ", " +
                   quote_for_message(module.type) + ")";
    if (!stays_inside_folder(module.path)) {
      throw Error(ErrorCode::invalid_model,
                  source + ": the path of " + module.label + " is outside the model folder");
    }
    modules.push_back(std::move(module));
  }
  return modules;
}

void read_sentence_bert_config(SentenceTransformerConfig& config) {
  for (const char* name : kSentenceBertConfigNames) {
    const std::filesystem::path path = config.transformer_dir / name;
    if (!file_exists(path)) continue;
    const json document = read_json_file(path);
    const JsonFields fields(document, path.string());
    config.max_seq_length = fields.find_positive_int("max_seq_length");
    config.do_lower_case = fields.find_bool("do_lower_case").value_or(false);
    if (fields.find_string("transformer_task") == "fill-mask") config.masked_lm = true;
    return;
  }
}

void read_model_card_config(const std::filesystem::path& model_dir,
                            SentenceTransformerConfig& config) {
  const std::filesystem::path path = model_dir / "config_sentence_transformers.json";
  if (!file_exists(path)) return;
  const json document = read_json_file(path);
  const JsonFields fields(document, path.string());
  if (const std::optional<JsonFields> prompts = fields.find_object("prompts")) {
    for (const auto& item : prompts->json().items()) {
      config.prompts.emplace(item.key(), *prompts->find_string(item.key()));
    }
  }
  config.default_prompt_name = fields.find_string("default_prompt_name");
  config.similarity_fn_name = fields.find_string("similarity_fn_name");
  config.max_active_dims = fields.find_positive_int("max_active_dims");
  if (config.default_prompt_name && config.prompts.count(*config.default_prompt_name) == 0) {
    fields.fail("default_prompt_name", "names no prompt in 'prompts'");
  }
}

[[noreturn]] void fail_unsupported(const std::filesystem::path& modules_path,
                                   const std::string& problem) {
  throw Error(ErrorCode::unsupported, modules_path.string() + ": " + problem);
}

// Applies one module of modules.json, in order: a Transformer first, then at most one Pooling,
// then at most one Normalize; anything else is refused with the reason.
void apply_module(const std::filesystem::path& model_dir, const std::filesystem::path& modules_path,
                  const Module& module, bool first, SentenceTransformerConfig& config) {
  const std::optional<ModuleKind> kind = known_module_kind(module.type);
  if (!kind && !module.type.starts_with(kPackagePrefix)) {
    fail_unsupported(modules_path, module.label +
                                       " is a custom module, which requires remote code; hades "
                                       "never runs remote code");
  }
  const bool transformer =
      kind == ModuleKind::transformer || kind == ModuleKind::masked_lm_transformer;
  if (first != transformer) {
    fail_unsupported(modules_path, module.label + (first ? " comes first; hades needs the first "
                                                           "module to be a Transformer"
                                                         : " is a second Transformer"));
  }
  const bool pooled = config.pooling || config.splade || config.normalize;
  if (transformer) {
    config.transformer_dir = module.path.empty() ? model_dir : model_dir / module.path;
    config.masked_lm = kind == ModuleKind::masked_lm_transformer;
  } else if (kind == ModuleKind::pooling && !pooled) {
    config.pooling = read_pooling_config(model_dir / module.path / "config.json");
  } else if (kind == ModuleKind::splade_pooling && !pooled) {
    config.splade = read_splade_pooling_config(model_dir / module.path / "config.json");
  } else if (kind == ModuleKind::normalize && !config.normalize && !config.splade) {
    config.normalize = true;
  } else if (kind == ModuleKind::dense) {
    fail_unsupported(modules_path,
                     module.label + " is a Dense layer, which hades does not support yet");
  } else {
    fail_unsupported(modules_path, module.label +
                                       " is not supported here (hades runs Transformer, then "
                                       "Pooling or SpladePooling, then Normalize, each at most "
                                       "once)");
  }
}

// A SpladePooling pools masked-LM logits, which only a fill-mask Transformer gives, and such a
// Transformer's logits are no token embeddings for a Pooling.
void check_masked_lm(const std::filesystem::path& modules_path,
                     const SentenceTransformerConfig& config) {
  if (config.splade && !config.masked_lm) {
    throw Error(ErrorCode::invalid_model,
                modules_path.string() +
                    ": SpladePooling needs a masked-LM Transformer before it (MLMTransformer, or "
                    "transformer_task \"fill-mask\" in sentence_bert_config.json)");
  }
  if (config.masked_lm && !config.splade) {
    fail_unsupported(modules_path,
                     "a masked-LM Transformer (fill-mask) is served only with SpladePooling");
  }
}

}  // namespace

std::string_view pooling_mode_name(PoolingMode mode) noexcept {
  switch (mode) {
    case PoolingMode::cls: return "cls";
    case PoolingMode::max: return "max";
    case PoolingMode::mean: return "mean";
    case PoolingMode::mean_sqrt_len: return "mean_sqrt_len_tokens";
    case PoolingMode::weighted_mean: return "weightedmean";
    case PoolingMode::last_token: return "lasttoken";
  }
  return "?";
}

PoolingConfig read_pooling_config(const std::filesystem::path& config_path) {
  const json document = read_json_file(config_path);
  const JsonFields fields(document, config_path.string());
  PoolingConfig config;
  // sentence-transformers 6 writes "embedding_dimension", earlier releases
  // "word_embedding_dimension".
  config.word_embedding_dimension = fields.find_positive_int("embedding_dimension");
  if (!config.word_embedding_dimension) {
    config.word_embedding_dimension = fields.find_positive_int("word_embedding_dimension");
  }
  config.include_prompt = fields.find_bool("include_prompt").value_or(true);
  // Pooling(pooling_mode="mean") overrides the boolean flags, as Pooling.__init__ does.
  if (const std::optional<std::string> name = fields.find_string("pooling_mode")) {
    std::string lower = *name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& [flag, mode] : kPoolingFlags) {
      if (pooling_mode_name(mode) == lower) config.modes = {mode};
    }
    if (config.modes.empty()) {
      fields.fail("pooling_mode",
                  "must be one of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken, "
                  "got " +
                      describe_json_value(*name));
    }
    return config;
  }
  for (const auto& [flag, mode] : kPoolingFlags) {
    if (fields.find_bool(flag).value_or(false)) config.modes.push_back(mode);
  }
  if (config.modes.empty()) {
    throw Error(ErrorCode::invalid_model,
                config_path.string() + ": no pooling mode is switched on (pooling_mode_* keys)");
  }
  return config;
}

SpladePoolingConfig read_splade_pooling_config(const std::filesystem::path& config_path) {
  const json document = read_json_file(config_path);
  const JsonFields fields(document, config_path.string());
  SpladePoolingConfig config;
  const std::string strategy = fields.find_string("pooling_strategy").value_or("max");
  if (strategy != "max" && strategy != "sum") {
    fields.fail("pooling_strategy", "must be max or sum, got " + describe_json_value(strategy));
  }
  config.strategy = strategy == "max" ? SpladeStrategy::max : SpladeStrategy::sum;
  const std::string activation = fields.find_string("activation_function").value_or("relu");
  if (activation != "relu" && activation != "log1p_relu") {
    fields.fail("activation_function",
                "must be relu or log1p_relu, got " + describe_json_value(activation));
  }
  config.activation = activation == "relu" ? SpladeActivation::relu : SpladeActivation::log1p_relu;
  // sentence-transformers 6 writes "embedding_dimension", 5.x "word_embedding_dimension".
  config.embedding_dimension = fields.find_positive_int("embedding_dimension");
  if (!config.embedding_dimension) {
    config.embedding_dimension = fields.find_positive_int("word_embedding_dimension");
  }
  return config;
}

std::optional<SentenceTransformerConfig> read_sentence_transformer_config(
    const std::filesystem::path& model_dir) {
  const std::filesystem::path modules_path = model_dir / "modules.json";
  if (!file_exists(modules_path)) return std::nullopt;
  const std::vector<Module> modules = read_modules(modules_path);
  SentenceTransformerConfig config;
  for (std::size_t i = 0; i < modules.size(); ++i) {
    apply_module(model_dir, modules_path, modules[i], i == 0, config);
  }
  read_sentence_bert_config(config);
  check_masked_lm(modules_path, config);
  read_model_card_config(model_dir, config);
  return config;
}

}  // namespace hades
