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
#include "text_batches.hpp"

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
              runtime::format_byte_size(model.memory_bytes).c_str(),
              args.chunk_note.empty() ? "" : ": ", args.chunk_note.c_str());
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
              model.device.c_str(), runtime::format_byte_size(model.memory_bytes).c_str());
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
std::string floats_json(const std::vector<float>& row) {
  std::string out = "[";
  char number[32];
  for (size_t j = 0; j < row.size(); ++j) {
    if (j != 0) out += ',';
    const auto written = std::to_chars(number, number + sizeof(number), row[j]);
    out.append(number, written.ptr);
  }
  return out + ']';
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

// Prints the embeddings of each request as it answers: --jsonl's lines, --json's one object
// (the answer's shape, whatever the number of requests), or the table, whose summary line comes
// first when the input took one request and last when it took several.
class EmbedPrinter {
 public:
  explicit EmbedPrinter(const ClientArgs& args) : args_(args) {}

  void add(const EmbeddingResult& e, const std::vector<std::string>& texts,
           const TextBatches& batches) {
    const size_t first = batches.first_index();
    model_ = e.model;
    dimension_ = e.dimension;
    tokens_ += e.tokens;
    count_ += e.embeddings.size();
    if (!args_.json && !args_.jsonl && first == 0 && batches.at_end()) print_summary();
    for (size_t i = 0; i < e.embeddings.size(); ++i)
      print_row(first + i, e.embeddings[i], texts[i]);
    std::fflush(stdout);
  }

  void finish() {
    if (args_.json) {
      std::printf("],\"dimension\":%lld,\"usage\":{\"tokens\":%lld}}\n",
                  static_cast<long long>(dimension_), static_cast<long long>(tokens_));
    } else if (!args_.jsonl && !summary_printed_) {
      print_summary();
    }
  }

 private:
  void print_summary() {
    std::printf("%s: %zu embeddings of %lld dimensions (%lld tokens)\n", model_.c_str(), count_,
                static_cast<long long>(dimension_), static_cast<long long>(tokens_));
    summary_printed_ = true;
  }

  void print_row(size_t index, const std::vector<float>& row, const std::string& text) {
    if (args_.jsonl) {
      std::printf("{\"index\":%zu,\"embedding\":%s}\n", index, floats_json(row).c_str());
    } else if (args_.json) {
      print_json_item(index, "{\"model\":" + json_text(model_) + ",\"embeddings\":[",
                      floats_json(row));
    } else {
      std::printf("[%zu]", index + 1);
      for (size_t j = 0; j < std::min<size_t>(row.size(), 6); ++j) std::printf(" %8.5f", row[j]);
      std::printf("%s  %s\n", row.size() > 6 ? " …" : "", text.c_str());
    }
  }

  const ClientArgs& args_;
  std::string model_;
  int64_t dimension_ = 0;
  int64_t tokens_ = 0;
  size_t count_ = 0;
  bool summary_printed_ = false;
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
  TextBatches batches(args.texts, args.model, service_request_limits(engine.client()));
  ProgressLine progress(batches);
  EmbedPrinter printer(args.client);
  for (std::vector<std::string> texts = batches.next(); !texts.empty(); texts = batches.next()) {
    printer.add(engine.embed(args.model, texts, options), texts, batches);
    progress.update(batches.first_index() + texts.size());
  }
  printer.finish();
}

struct TokenizeArgs {
  ClientArgs client;
  std::string model;
  std::vector<std::string> texts;
  bool no_special_tokens = false;
};

nlohmann::json encoding_json(const TokenEncoding& e) {
  return {{"ids", e.ids}, {"tokens", e.tokens}, {"offsets", e.offsets}, {"type_ids", e.type_ids}};
}

void print_encoding(const ClientArgs& args, size_t index, const TokenEncoding& e,
                    const std::string& text) {
  if (args.jsonl) {
    nlohmann::json line = encoding_json(e);
    line["index"] = index;
    return print_json(line);
  }
  if (args.json) return print_json_item(index, "{\"encodings\":[", json_text(encoding_json(e)));
  std::printf("[%zu] %s\n    %zu tokens:", index + 1, text.c_str(), e.ids.size());
  for (size_t j = 0; j < e.ids.size(); ++j) {
    std::printf(" %s(%lld)", j < e.tokens.size() ? e.tokens[j].c_str() : "?",
                static_cast<long long>(e.ids[j]));
  }
  std::printf("\n");
}

void run_tokenize(const TokenizeArgs& args) {
  HaystackModelEngine engine(client_options(args.client));
  TokenizeOptions options;
  options.add_special_tokens = !args.no_special_tokens;
  TextBatches batches(args.texts, args.model, service_request_limits(engine.client()));
  ProgressLine progress(batches);
  std::string model;
  for (std::vector<std::string> texts = batches.next(); !texts.empty(); texts = batches.next()) {
    const TokenizationResult result = engine.tokenize(args.model, texts, options);
    model = result.model;
    for (size_t i = 0; i < result.encodings.size(); ++i) {
      print_encoding(args.client, batches.first_index() + i, result.encodings[i],
                     i < texts.size() ? texts[i] : "");
    }
    std::fflush(stdout);
    progress.update(batches.first_index() + texts.size());
  }
  if (args.client.json) std::printf("],\"model\":%s}\n", json_text(model).c_str());
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
  add_jsonl_flag(*embed, embed_args->client);
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
  add_jsonl_flag(*tokenize, tokenize_args->client);
  tokenize->callback([tokenize_args] { run_tokenize(*tokenize_args); });
}

}  // namespace hades::cli
