// Verbs that run models through the service: `embed`, `tokenize`, and `demo` (start the service,
// load all-MiniLM-L6-v2, embed a few sentences, print their cosine similarities, list, stop).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client_output.hpp"
#include "commands.hpp"
#include "hades/engine.hpp"

namespace hades::cli {
namespace {

constexpr const char* kDefaultModel = "sentence-transformers/all-MiniLM-L6-v2";

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0.0, na = 0.0, nb = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  return dot / std::max(std::sqrt(na * nb), 1e-12);
}

void print_similarity_table(const std::vector<std::string>& texts, const EmbeddingResult& e) {
  std::printf("\n%-4s", "");
  for (size_t j = 0; j < texts.size(); ++j) {
    std::printf(" %6s", ("[" + std::to_string(j + 1) + "]").c_str());
  }
  std::printf("\n");
  for (size_t i = 0; i < texts.size(); ++i) {
    std::printf("%-4s", ("[" + std::to_string(i + 1) + "]").c_str());
    for (size_t j = 0; j < texts.size(); ++j) {
      std::printf(" %6.3f", cosine(e.embeddings[i], e.embeddings[j]));
    }
    std::printf("   %s\n", texts[i].c_str());
  }
}

struct DemoArgs {
  ClientArgs client;
  std::string model = kDefaultModel;
  std::string chunk_model;  // a chonky-style token classifier to load beside the embedder
  std::string chunk_note;   // what to say about it (e.g. that it is a random fixture)
};

// Loads the chunking model next to the embedder and cuts a short document with it.
void demo_chunk(HaystackModelEngine& engine, const DemoArgs& args) {
  const std::string document =
      "The lighthouse keeper had lived alone on the island for eleven years. Every evening he "
      "climbed the stairs and lit the lamp. One morning a letter arrived on the supply boat. It "
      "was from his daughter, who wrote that she was coming to visit in the spring. He read it "
      "twice, folded it carefully and put it in his coat pocket.";
  const LoadedModel model = engine.load_model(args.chunk_model);
  std::printf("\nchunking model %s (%s, %s)%s%s\n", model.id.c_str(), model.kind.c_str(),
              human_bytes(model.memory_bytes).c_str(), args.chunk_note.empty() ? "" : ": ",
              args.chunk_note.c_str());
  const nlohmann::json reply = nlohmann::json::parse(engine.client().request(
      "POST", "/v1/chunk",
      nlohmann::json{{"model", args.chunk_model}, {"inputs", {document}}}.dump()));
  const nlohmann::json result = reply.at("results").at(0);
  for (const auto& chunk : result.at("chunks")) {
    std::printf("  | %s\n", chunk.at("text").get<std::string>().c_str());
  }
}

void run_demo(const DemoArgs& args) {
  const std::vector<std::string> texts = {
      "The cat sits outside on the warm stones.",
      "A cat is lying in the sun in the garden.",
      "A man is playing a guitar on stage.",
      "The band performed their new song live.",
      "I love eating pasta with tomato sauce.",
      "Spaghetti with fresh tomatoes is my favourite dinner.",
      "The stock market fell sharply this morning.",
  };
  HaystackModelEngine engine(client_options(args.client));
  // Stops the service at the end, also on an error — unless it was running before the demo.
  ServiceScope scope(engine, {.stop_only_if_started = true});
  const long long pid = scope.started().pid;
  if (scope.started().already_running) {
    std::printf("service already running (pid %lld) on %s; the demo leaves it running\n", pid,
                engine.socket_path().c_str());
  } else {
    std::printf("service started (pid %lld) on %s\n", pid, engine.socket_path().c_str());
  }
  const LoadedModel model = engine.load_model(args.model);
  std::printf("model   %s (%s on %s, %s)\n", model.id.c_str(), model.state.c_str(),
              model.device.c_str(), human_bytes(model.memory_bytes).c_str());
  const EmbeddingResult e = engine.embed(args.model, texts);
  std::printf("embedded %zu sentences (%lld tokens) into %lld dimensions; cosine similarities:\n",
              texts.size(), static_cast<long long>(e.tokens), static_cast<long long>(e.dimension));
  print_similarity_table(texts, e);
  if (!args.chunk_model.empty()) demo_chunk(engine, args);
  std::printf("\nloaded models:\n");
  print_models_table(engine.get_loaded_models(), "  ");
  if (!scope.started().already_running) {
    const StopResult stopped = engine.stop();
    std::printf("\nservice stopped (pid %lld)\n", static_cast<long long>(stopped.pid));
  }
}

// Floats in their shortest round-trip form, as the service sends them (a JSON library would widen
// them to 17 significant digits of a double).
std::string embedding_json(const EmbeddingResult& e) {
  std::string out = "{\"model\":" + nlohmann::json(e.model).dump() + ",\"embeddings\":[";
  char number[32];
  for (size_t i = 0; i < e.embeddings.size(); ++i) {
    out += i == 0 ? "[" : ",[";
    for (size_t j = 0; j < e.embeddings[i].size(); ++j) {
      if (j != 0) out += ',';
      const auto written = std::to_chars(number, number + sizeof(number), e.embeddings[i][j]);
      out.append(number, written.ptr);
    }
    out += ']';
  }
  out += "],\"dimension\":" + std::to_string(e.dimension) +
         ",\"usage\":{\"tokens\":" + std::to_string(e.tokens) + "}}";
  return out;
}

struct EmbedArgs {
  ClientArgs client;
  std::string model;
  std::vector<std::string> texts;
  std::string pooling;
  std::string dtype;
  bool no_normalize = false;
  bool no_truncate = false;
  std::string prompt;
  bool prompt_given = false;  // even an empty --prompt: then no default prompt either
  std::string prompt_name;
  int64_t dimensions = 0;
};

void run_embed(const EmbedArgs& args) {
  HaystackModelEngine engine(client_options(args.client));
  // A model loaded in another dtype is a conflict naming it, not a silent switch.
  if (!args.dtype.empty()) engine.load_model(args.model, {.dtype = args.dtype});
  EmbeddingOptions options;
  options.pooling = args.pooling;
  if (args.no_normalize) options.normalize = false;
  options.truncate = !args.no_truncate;
  if (args.prompt_given) options.prompt = args.prompt;
  options.prompt_name = args.prompt_name;
  options.dimensions = args.dimensions;
  const std::vector<std::string> texts = texts_or_stdin(args.texts);
  const EmbeddingResult e = engine.embed(args.model, texts, options);
  if (args.client.json) {
    std::printf("%s\n", embedding_json(e).c_str());
    return;
  }
  std::printf("%s: %zu embeddings of %lld dimensions (%lld tokens)\n", e.model.c_str(),
              e.embeddings.size(), static_cast<long long>(e.dimension),
              static_cast<long long>(e.tokens));
  for (size_t i = 0; i < e.embeddings.size(); ++i) {
    std::printf("[%zu]", i + 1);
    const auto& row = e.embeddings[i];
    for (size_t j = 0; j < std::min<size_t>(row.size(), 6); ++j) std::printf(" %8.5f", row[j]);
    std::printf("%s  %s\n", row.size() > 6 ? " …" : "", texts[i].c_str());
  }
}

struct TokenizeArgs {
  ClientArgs client;
  std::string model;
  std::vector<std::string> texts;
  bool no_special_tokens = false;
};

void run_tokenize(const TokenizeArgs& args) {
  HaystackModelEngine engine(client_options(args.client));
  TokenizeOptions options;
  options.add_special_tokens = !args.no_special_tokens;
  const std::vector<std::string> texts = texts_or_stdin(args.texts);
  const TokenizationResult result = engine.tokenize(args.model, texts, options);
  if (args.client.json) {
    nlohmann::json encodings = nlohmann::json::array();
    for (const TokenEncoding& e : result.encodings) {
      encodings.push_back(
          {{"ids", e.ids}, {"tokens", e.tokens}, {"offsets", e.offsets}, {"type_ids", e.type_ids}});
    }
    print_json({{"model", result.model}, {"encodings", encodings}});
    return;
  }
  for (size_t i = 0; i < result.encodings.size(); ++i) {
    const TokenEncoding& e = result.encodings[i];
    std::printf("[%zu] %s\n    %zu tokens:", i + 1, i < texts.size() ? texts[i].c_str() : "",
                e.ids.size());
    for (size_t j = 0; j < e.ids.size(); ++j) {
      std::printf(" %s(%lld)", j < e.tokens.size() ? e.tokens[j].c_str() : "?",
                  static_cast<long long>(e.ids[j]));
    }
    std::printf("\n");
  }
}

}  // namespace

void add_runtime_commands(CLI::App& app) {
  auto* demo = app.add_subcommand(
      "demo", "Through the service: embed a few sentences and print their cosine similarities");
  auto demo_args = std::make_shared<DemoArgs>();
  add_client_flags(*demo, demo_args->client);
  demo->add_option("--model", demo_args->model, "model id (in the Hugging Face cache) or folder");
  demo->add_option("--chunk-model", demo_args->chunk_model,
                   "a token-classification model (chonky) to chunk a document with");
  demo->add_option("--chunk-note", demo_args->chunk_note, "a line about the chunking model");
  demo->callback([demo_args] { run_demo(*demo_args); });

  auto* embed = app.add_subcommand("embed", "Embed TEXTs (or stdin lines with -) with MODEL");
  auto embed_args = std::make_shared<EmbedArgs>();
  add_client_flags(*embed, embed_args->client);
  embed->add_option("model", embed_args->model, "model id or folder")->required();
  embed->add_option("texts", embed_args->texts, "texts to embed, or - for stdin")->required();
  embed->add_option("--pooling", embed_args->pooling,
                    "cls|mean|max|mean_sqrt_len|weightedmean|lasttoken (default: the model's)");
  embed->add_flag("--no-normalize", embed_args->no_normalize, "do not L2-normalize");
  embed
      ->add_option("--dtype", embed_args->dtype,
                   "load MODEL first with this precision: fp32, int8, bf16, auto")
      ->check(CLI::IsMember({"fp32", "int8", "bf16", "auto"}));
  embed->add_flag("--no-truncate", embed_args->no_truncate,
                  "fail on inputs longer than the model's limit");
  embed->add_option("--prompt", embed_args->prompt,
                    "text put before each input (default: the model's prompt)");
  embed->add_option("--prompt-name", embed_args->prompt_name,
                    "the prompt of this name in the model's config_sentence_transformers.json, "
                    "e.g. query");
  embed->add_option("--dimensions", embed_args->dimensions,
                    "keep the first N values of each embedding (Matryoshka), normalized again");
  embed->callback([embed, embed_args] {
    embed_args->prompt_given = embed->count("--prompt") > 0;
    run_embed(*embed_args);
  });

  auto* tokenize =
      app.add_subcommand("tokenize", "Tokenize TEXTs (or stdin lines with -) as MODEL does");
  auto tokenize_args = std::make_shared<TokenizeArgs>();
  add_client_flags(*tokenize, tokenize_args->client);
  tokenize->add_option("model", tokenize_args->model, "model id or folder")->required();
  tokenize->add_option("texts", tokenize_args->texts, "texts to tokenize, or - for stdin")
      ->required();
  tokenize->add_flag("--no-special-tokens", tokenize_args->no_special_tokens,
                     "leave out [CLS], [SEP] and the like");
  tokenize->callback([tokenize_args] { run_tokenize(*tokenize_args); });
}

}  // namespace hades::cli
