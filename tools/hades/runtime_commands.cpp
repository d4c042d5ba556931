// Verbs that run a model in this process: `demo`, `embed`, `tokenize`.
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "hades/error.hpp"
#include "hub/hf_cache.hpp"
#include "models/embedding_model.hpp"

namespace hades::cli {
namespace {

constexpr const char* kDefaultModel = "sentence-transformers/all-MiniLM-L6-v2";

float cosine(std::span<const float> a, std::span<const float> b) {
  double dot = 0.0, na = 0.0, nb = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  return static_cast<float>(dot / std::max(std::sqrt(na * nb), 1e-12));
}

void print_similarity_table(const std::vector<std::string>& texts, const Embeddings& e) {
  std::printf("\n%-4s", "");
  for (size_t j = 0; j < texts.size(); ++j)
    std::printf(" %6s", ("[" + std::to_string(j + 1) + "]").c_str());
  std::printf("\n");
  for (size_t i = 0; i < texts.size(); ++i) {
    std::printf("%-4s", ("[" + std::to_string(i + 1) + "]").c_str());
    for (size_t j = 0; j < texts.size(); ++j) {
      std::printf(" %6.3f", cosine(e.row(static_cast<int64_t>(i)), e.row(static_cast<int64_t>(j))));
    }
    std::printf("   %s\n", texts[i].c_str());
  }
}

void run_demo(const std::string& model_name) {
  const std::vector<std::string> texts = {
      "The cat sits outside on the warm stones.",
      "A cat is lying in the sun in the garden.",
      "A man is playing a guitar on stage.",
      "The band performed their new song live.",
      "I love eating pasta with tomato sauce.",
      "Spaghetti with fresh tomatoes is my favourite dinner.",
      "The stock market fell sharply this morning.",
  };
  const auto folder = resolve_model(model_name);
  std::printf("model   %s\nfolder  %s\n", model_name.c_str(), folder.string().c_str());
  const auto model = EmbeddingModel::load(folder);
  const Embeddings e = model->embed(texts);
  std::printf("embedded %zu sentences (%lld tokens) into %lld dimensions; cosine similarities:\n",
              texts.size(), static_cast<long long>(e.tokens), static_cast<long long>(e.dimension));
  print_similarity_table(texts, e);
}

std::optional<PoolingMode> parse_pooling(const std::string& name) {
  static const std::map<std::string, PoolingMode> modes = {
      {"cls", PoolingMode::cls},
      {"mean", PoolingMode::mean},
      {"max", PoolingMode::max},
      {"mean_sqrt_len", PoolingMode::mean_sqrt_len},
      {"weightedmean", PoolingMode::weighted_mean},
      {"lasttoken", PoolingMode::last_token}};
  if (name.empty()) return std::nullopt;
  const auto it = modes.find(name);
  if (it == modes.end()) throw hades::Error(hades::ErrorCode::invalid_argument, "unknown pooling '" + name + "'");
  return it->second;
}

struct EmbedArgs {
  std::string model = kDefaultModel;
  std::vector<std::string> texts;
  std::string pooling;
  bool no_normalize = false;
  bool no_truncate = false;
};

void run_embed(const EmbedArgs& args) {
  const auto model = EmbeddingModel::load(resolve_model(args.model));
  EmbedOptions options;
  options.pooling = parse_pooling(args.pooling);
  if (args.no_normalize) options.normalize = false;
  options.truncate = !args.no_truncate;
  const Embeddings e = model->embed(args.texts, options);
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < e.count(); ++i)
    rows.push_back(std::vector<float>(e.row(i).begin(), e.row(i).end()));
  const nlohmann::json out = {
      {"model", args.model}, {"embeddings", rows}, {"usage", {{"tokens", e.tokens}}}};
  std::printf("%s\n", out.dump().c_str());
}

void run_tokenize(const std::string& model_name, const std::vector<std::string>& texts) {
  const auto model = EmbeddingModel::load(resolve_model(model_name));
  nlohmann::json encodings = nlohmann::json::array();
  for (const Encoding& e : model->tokenize(texts)) {
    encodings.push_back({{"ids", e.ids}, {"tokens", e.tokens}, {"offsets", e.offsets}});
  }
  std::printf("%s\n",
              nlohmann::json({{"model", model_name}, {"encodings", encodings}}).dump().c_str());
}

}  // namespace

void add_runtime_commands(CLI::App& app) {
  auto* demo =
      app.add_subcommand("demo", "Embed a few sentences and print their cosine similarities");
  auto demo_model = std::make_shared<std::string>(kDefaultModel);
  demo->add_option("--model", *demo_model, "model id (in the Hugging Face cache) or folder");
  demo->callback([demo_model] { run_demo(*demo_model); });

  auto* embed = app.add_subcommand("embed", "Print embeddings of TEXTs as JSON");
  auto embed_args = std::make_shared<EmbedArgs>();
  embed->add_option("--model", embed_args->model, "model id or folder");
  embed->add_option("--pooling", embed_args->pooling,
                    "cls|mean|max|mean_sqrt_len|weightedmean|lasttoken");
  embed->add_flag("--no-normalize", embed_args->no_normalize, "do not L2-normalize");
  embed->add_flag("--no-truncate", embed_args->no_truncate,
                  "fail on inputs longer than the model's limit");
  embed->add_option("texts", embed_args->texts, "texts to embed")->required();
  embed->callback([embed_args] { run_embed(*embed_args); });

  auto* tokenize =
      app.add_subcommand("tokenize", "Print the model's tokenization of TEXTs as JSON");
  auto tok_model = std::make_shared<std::string>(kDefaultModel);
  auto tok_texts = std::make_shared<std::vector<std::string>>();
  tokenize->add_option("--model", *tok_model, "model id or folder");
  tokenize->add_option("texts", *tok_texts, "texts to tokenize")->required();
  tokenize->callback([tok_model, tok_texts] { run_tokenize(*tok_model, *tok_texts); });
}

}  // namespace hades::cli
