// In-process embedding throughput on a real text corpus, for batch sizes 1, 8 and 64.
//
//   build/bench/hades_bench_embed --model MODEL_ID_OR_DIR [--corpus FILE.json] [--seconds S]
//
// The corpus is a JSON file with a "texts" array (default: the 136 prose passages of
// tests/data/minilm/reference.json, 2 to 256+ tokens). Each batch size embeds consecutive
// batches of the corpus, cycling, for at least S seconds; the figures are texts/s and tokens/s.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "hades/error.hpp"
#include "hub/downloader.hpp"
#include "models/embedding_model.hpp"

namespace {

struct Figures {
  double texts_per_s = 0;
  double tokens_per_s = 0;
  double ms_per_batch = 0;
};

Figures run(const hades::EmbeddingModel& model, const std::vector<std::string>& corpus,
            size_t batch_size, double seconds) {
  using Clock = std::chrono::steady_clock;
  size_t next = 0;
  size_t texts = 0;
  int64_t tokens = 0;
  size_t batches = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds || batches < 3) {
    std::vector<std::string> batch;
    for (size_t i = 0; i < batch_size; ++i) batch.push_back(corpus[(next++) % corpus.size()]);
    tokens += model.embed(batch).tokens;
    texts += batch.size();
    ++batches;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return {static_cast<double>(texts) / elapsed, static_cast<double>(tokens) / elapsed,
          elapsed * 1e3 / static_cast<double>(batches)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hades in-process embedding benchmark"};
  std::string model_name = "sentence-transformers/all-MiniLM-L6-v2";
  std::string corpus_path = std::string(HADES_SOURCE_DIR) + "/tests/data/minilm/reference.json";
  double seconds = 5.0;
  app.add_option("--model", model_name, "model id (Hugging Face cache) or folder");
  app.add_option("--corpus", corpus_path, "JSON file with a \"texts\" array");
  app.add_option("--seconds", seconds, "minimum time per batch size");
  CLI11_PARSE(app, argc, argv);
  try {
    std::ifstream in(corpus_path);
    if (!in) throw hades::Error(hades::ErrorCode::not_found, corpus_path + ": corpus not found");
    const auto corpus = nlohmann::json::parse(in).at("texts").get<std::vector<std::string>>();
    const auto load_start = std::chrono::steady_clock::now();
    const auto model = hades::EmbeddingModel::load(hades::resolve_model(model_name));
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
            .count();
    std::printf("model %s, loaded in %.0f ms; corpus %zu texts; %u hardware threads\n",
                model_name.c_str(), load_ms, corpus.size(), std::thread::hardware_concurrency());
    model->embed(corpus);  // warm-up: oneDNN kernels are generated on first use
    std::printf("%8s %12s %12s %14s\n", "batch", "texts/s", "tokens/s", "ms/batch");
    for (size_t batch_size : {1, 8, 64}) {
      const Figures f = run(*model, corpus, batch_size, seconds);
      std::printf("%8zu %12.1f %12.0f %14.2f\n", batch_size, f.texts_per_s, f.tokens_per_s,
                  f.ms_per_batch);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hades_bench_embed: %s\n", e.what());
    return 1;
  }
  return 0;
}
