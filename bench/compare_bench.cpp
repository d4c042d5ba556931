// The hades side of the side-by-side benchmark (bench/compare.py runs it beside
// sentence-transformers and prints the ratios). Each mode prints one JSON object on stdout:
//
//   hades_bench_compare inprocess --model M --corpus C.json [--runs N] [--dtype fp32|int8|bf16]
//                                 [--latency-calls K]
//       the runtime API in this process, its linear layers at DTYPE: load time, corpus throughput
//       (median of N runs, wall and CPU seconds), the tokenizer's own throughput over the corpus,
//       p50/p99 latency of one short text, peak RSS
//   hades_bench_compare sparse --model M --corpus C.json [the options of inprocess]
//       the same through EmbeddingModel::embed_sparse, for a SparseEncoder (SPLADE) folder;
//       --embeddings writes each sparse vector scattered over the vocabulary (a dense row)
//   hades_bench_compare service --socket S --model M --corpus C.json [--clients K] [--runs N]
//                               [--dtype fp32|int8|bf16]
//       a running `hades serve` through the C++ client, the model loaded at DTYPE: K concurrent
//       clients sending the corpus in requests of --request-texts texts, then one client's
//       short-text latency, the server's peak RSS
//   hades_bench_compare gemm [--rows R]
//       oneDNN fp32, bf16 (where the CPU has it natively) and int8 (u8 × s8 → s32) matmul GFLOP/s
//       at the model's shapes
//   hades_bench_compare chunk --model DIR --document FILE [--runs N] [--dtype fp32|int8|bf16]
//       a chonky-style token classifier (ClassifierModel::chunk) over one document: load time,
//       seconds per pass (median of N, after a warm-up pass), its windows, peak RSS
//   hades_bench_compare model-types
//       the config.json model_type values this build loads (bench/compare_families.py skips the
//       families it lacks)
//
// The corpus is {"texts": [...], "short": [...]}: the texts to embed and the short queries.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "hades/client.hpp"
#include "hades/error.hpp"
#include "hub/downloader.hpp"
#include "models/classifier_model.hpp"
#include "models/embedding_model.hpp"
#include "models/registry.hpp"
#include "support/gemm_peak.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Corpus {
  std::vector<std::string> texts;
  std::vector<std::string> queries;
};

Corpus read_corpus(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw hades::Error(hades::ErrorCode::not_found, path + ": corpus not found");
  const json j = json::parse(in);
  return {j.at("texts").get<std::vector<std::string>>(),
          j.at("short").get<std::vector<std::string>>()};
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values.at(index);
}

// CPU seconds this process has used: on a shared machine, work per token is steadier in CPU
// time than in wall time.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double median(std::vector<double> values) {
  return percentile(std::move(values), 0.5);
}

// VmHWM (peak resident set) of a process, in bytes.
uint64_t peak_rss_bytes(const std::string& pid) {
  std::ifstream status("/proc/" + pid + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// CPU seconds the calling thread has used (a short text runs on the calling thread alone).
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Latency of LATENCY_RUNS calls of EMBED on one short text each, after a warm-up; also the
// calling thread's CPU time per call, which other work on a shared machine does not inflate.
template <typename Embed>
json short_text_latency(const std::vector<std::string>& queries, int runs, Embed embed) {
  for (int i = 0; i < 20; ++i) embed(queries[static_cast<size_t>(i) % queries.size()]);
  std::vector<double> ms, cpu_ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    const double cpu_start = thread_cpu_seconds();
    embed(queries[static_cast<size_t>(i) % queries.size()]);
    ms.push_back(seconds_since(start) * 1e3);
    cpu_ms.push_back((thread_cpu_seconds() - cpu_start) * 1e3);
  }
  return {{"p50_ms", percentile(ms, 0.5)},
          {"p99_ms", percentile(ms, 0.99)},
          {"cpu_p50_ms", percentile(cpu_ms, 0.5)}};
}

// Rows of float32 written raw, one row per text, for compare.py's cosine to float32.
void write_rows(const std::vector<float>& values, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Each sparse vector scattered over the vocabulary: dense rows, so that the reference's vectors
// compare index by index (a dimension of one holds zero on a side that leaves it out).
std::vector<float> dense_rows(const hades::SparseEmbeddings& e) {
  const auto dimension = static_cast<size_t>(e.dimension);
  std::vector<float> rows(e.vectors.size() * dimension, 0.0F);
  for (size_t i = 0; i < e.vectors.size(); ++i) {
    const hades::SparseVector& v = e.vectors[i];
    for (size_t k = 0; k < v.indices.size(); ++k) {
      rows.at(i * dimension + static_cast<size_t>(v.indices[k])) = v.values[k];
    }
  }
  return rows;
}

struct InprocessOptions {
  int runs = 5;
  int64_t batch_tokens = 0;  // 0: EmbedOptions' default
  int latency_calls = 300;   // 0: no short-text latency
  hades::LinearPrecision precision = hades::LinearPrecision::fp32;
  std::string embeddings_path;
  bool sparse = false;  // embed_sparse (a SparseEncoder folder) in place of embed
};

// One pass of TEXTS through MODEL, dense or sparse as SETTINGS asks: the tokens computed, and
// the rows (dense float32, one per text) where ROWS is given.
int64_t embed_pass(const hades::EmbeddingModel& model, std::span<const std::string> texts,
                   const hades::EmbedOptions& options, bool sparse, std::vector<float>* rows) {
  if (sparse) {
    const hades::SparseEmbeddings e = model.embed_sparse(texts, options);
    if (rows != nullptr) *rows = dense_rows(e);
    return e.tokens;
  }
  hades::Embeddings e = model.embed(texts, options);
  if (rows != nullptr) *rows = std::move(e.values);
  return e.tokens;
}

json run_inprocess(const std::string& model_name, const Corpus& corpus,
                   const InprocessOptions& settings) {
  const int runs = settings.runs;
  const hades::LinearPrecision precision = settings.precision;
  hades::EmbedOptions options;
  if (settings.batch_tokens > 0) options.max_batch_tokens = settings.batch_tokens;
  const auto load_start = Clock::now();
  const auto model =
      hades::EmbeddingModel::load(hades::resolve_model(model_name), {.precision = precision});
  const double load_ms = seconds_since(load_start) * 1e3;
  std::vector<int64_t> lengths;  // tokens per text, for the FLOP count
  for (const hades::Encoding& e : model->tokenize(corpus.texts)) {
    lengths.push_back(static_cast<int64_t>(e.size()));
  }
  if (model->sparse() != settings.sparse) {
    throw hades::Error(hades::ErrorCode::invalid_argument,
                       model_name + (model->sparse() ? ": a sparse model; run the sparse mode"
                                                     : ": a dense model; run the inprocess mode"));
  }
  std::vector<float> rows;
  int64_t tokens = embed_pass(*model, corpus.texts, options, settings.sparse, &rows);  // warm-up
  if (!settings.embeddings_path.empty()) write_rows(rows, settings.embeddings_path);
  std::vector<double> seconds, cpu_seconds, tokenize_seconds;
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    const double cpu_start = process_cpu_seconds();
    tokens = embed_pass(*model, corpus.texts, options, settings.sparse, nullptr);
    seconds.push_back(seconds_since(start));
    cpu_seconds.push_back(process_cpu_seconds() - cpu_start);
    const auto tokenize_start = Clock::now();
    model->tokenize(corpus.texts);
    tokenize_seconds.push_back(seconds_since(tokenize_start));
  }
  const double s = median(seconds);
  const auto texts = static_cast<double>(corpus.texts.size());
  json out = {{"load_ms", load_ms},
              {"texts_per_s", texts / s},
              {"tokenize_texts_per_s", texts / median(tokenize_seconds)},
              {"tokens_per_s", static_cast<double>(tokens) / s},
              {"tokens", tokens},
              {"lengths", lengths},
              {"run_seconds", seconds},
              {"run_cpu_seconds", cpu_seconds}};
  if (settings.latency_calls > 0) {
    out["latency"] =
        short_text_latency(corpus.queries, settings.latency_calls, [&](const std::string& q) {
          embed_pass(*model, std::span<const std::string>(&q, 1), {}, settings.sparse, nullptr);
        });
  }
  out["peak_rss_bytes"] = peak_rss_bytes("self");
  out["weight_bytes"] = model->weight_bytes();
  out["dtype"] = hades::linear_precision_name(precision);
  return out;
}

// ClassifierModel::chunk over the whole document, RUNS times after a warm-up pass.
json run_chunk(const std::string& folder, const std::string& document_path, int runs,
               hades::LinearPrecision precision) {
  std::ifstream in(document_path, std::ios::binary);
  if (!in) throw hades::Error(hades::ErrorCode::not_found, document_path + ": document not found");
  const std::string document{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto load_start = Clock::now();
  const auto model = hades::ClassifierModel::load(folder, {.precision = precision});
  const double load_ms = seconds_since(load_start) * 1e3;
  const hades::runtime::ChunkedText first = model->chunk(document);
  std::vector<double> seconds;
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    model->chunk(document);
    seconds.push_back(seconds_since(start));
  }
  return {{"load_ms", load_ms},
          {"seconds", median(seconds)},
          {"run_seconds", seconds},
          {"windows", first.windows},
          {"chunks", first.chunks.size()},
          {"peak_rss_bytes", peak_rss_bytes("self")},
          {"dtype", hades::linear_precision_name(precision)}};
}

// One pass of the corpus through the service: CLIENTS threads take requests of REQUEST_TEXTS
// consecutive texts from a shared cursor until none is left.
double service_pass(const hades::ClientOptions& options, const std::string& model,
                    const Corpus& corpus, int clients, size_t request_texts) {
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      hades::ModelClient client(options);
      for (size_t first = next.fetch_add(request_texts); first < corpus.texts.size();
           first = next.fetch_add(request_texts)) {
        const size_t last = std::min(first + request_texts, corpus.texts.size());
        try {
          client.embed(model, {corpus.texts.begin() + static_cast<long>(first),
                               corpus.texts.begin() + static_cast<long>(last)});
        } catch (const std::exception& e) {
          std::fprintf(stderr, "request failed: %s\n", e.what());
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (failures > 0) throw hades::Error(hades::ErrorCode::internal, "requests failed");
  return seconds_since(start);
}

json run_service(const std::string& socket, const std::string& model, const Corpus& corpus,
                 int clients, size_t request_texts, int runs, hades::LinearPrecision precision) {
  hades::ClientOptions options;
  options.socket_path = socket;
  options.autostart = false;
  hades::ModelClient client(options);
  const auto load_start = Clock::now();
  client.load_model(model, {.dtype = std::string(hades::linear_precision_name(precision))});
  const double load_ms = seconds_since(load_start) * 1e3;
  service_pass(options, model, corpus, clients, request_texts);  // warm-up
  std::vector<double> seconds;
  for (int r = 0; r < runs; ++r) {
    seconds.push_back(service_pass(options, model, corpus, clients, request_texts));
  }
  const double s = median(seconds);
  json out = {{"load_ms", load_ms},
              {"clients", clients},
              {"request_texts", request_texts},
              {"texts_per_s", static_cast<double>(corpus.texts.size()) / s},
              {"run_seconds", seconds}};
  out["latency"] = short_text_latency(corpus.queries, 300,
                                      [&](const std::string& q) { client.embed(model, {q}); });
  out["peak_rss_bytes"] = peak_rss_bytes(std::to_string(client.status().pid));
  out["dtype"] = hades::linear_precision_name(precision);
  return out;
}

void add_dtype_option(CLI::App* sub, hades::LinearPrecision& precision) {
  sub->add_option("--dtype", precision, "precision of the linear layers")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, hades::LinearPrecision>{{"fp32", hades::LinearPrecision::fp32},
                                                        {"int8", hades::LinearPrecision::int8},
                                                        {"bf16", hades::LinearPrecision::bf16}}));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hades side of bench/compare.py"};
  app.require_subcommand(1);
  std::string model = "sentence-transformers/all-MiniLM-L6-v2", corpus_path, socket;
  int runs = 5, clients = 16;
  size_t request_texts = 8;
  int64_t rows = 2048;
  InprocessOptions inprocess_options;
  hades::LinearPrecision precision = hades::LinearPrecision::fp32;
  CLI::App* inprocess = app.add_subcommand("inprocess", "the runtime API");
  CLI::App* sparse = app.add_subcommand("sparse", "the runtime API's sparse embeddings");
  for (CLI::App* sub : {inprocess, sparse, app.add_subcommand("service", "a running service")}) {
    sub->add_option("--model", model, "model id or folder");
    sub->add_option("--corpus", corpus_path, "corpus JSON")->required();
    sub->add_option("--runs", runs, "passes over the corpus (median reported)");
    add_dtype_option(sub, precision);
  }
  std::string document;
  CLI::App* chunk = app.add_subcommand("chunk", "a chonky-style model over one document");
  chunk->add_option("--model", model, "model folder")->required();
  chunk->add_option("--document", document, "the text to chunk")->required();
  chunk->add_option("--runs", runs, "passes over the document (median reported)");
  add_dtype_option(chunk, precision);
  for (CLI::App* sub : {inprocess, sparse}) {
    sub->add_option("--batch-tokens", inprocess_options.batch_tokens,
                    "token budget of one forward pass");
    sub->add_option("--embeddings", inprocess_options.embeddings_path,
                    "write the corpus's embeddings here (raw float32, a row per text)");
    sub->add_option("--latency-calls", inprocess_options.latency_calls,
                    "short texts timed one at a time (0: none)");
  }
  CLI::App* service = app.get_subcommand("service");
  service->add_option("--socket", socket, "the service's socket")->required();
  service->add_option("--clients", clients, "concurrent clients");
  service->add_option("--request-texts", request_texts, "texts per request");
  app.add_subcommand("gemm", "GEMM peak at the model's shapes")
      ->add_option("--rows", rows, "rows (tokens) of each matmul");
  app.add_subcommand("model-types", "the model_type values this build loads");
  CLI11_PARSE(app, argc, argv);
  try {
    json out;
    if (app.got_subcommand("gemm")) {
      out = hades::bench::gemm_peak(rows);
    } else if (app.got_subcommand("model-types")) {
      out = {{"model_types", hades::supported_model_types()}};
    } else if (app.got_subcommand("chunk")) {
      out = run_chunk(model, document, runs, precision);
    } else if (app.got_subcommand("inprocess") || app.got_subcommand("sparse")) {
      inprocess_options.runs = runs;
      inprocess_options.precision = precision;
      inprocess_options.sparse = app.got_subcommand("sparse");
      out = run_inprocess(model, read_corpus(corpus_path), inprocess_options);
    } else {
      out = run_service(socket, model, read_corpus(corpus_path), clients, request_texts, runs,
                        precision);
    }
    std::printf("%s\n", out.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hades_bench_compare: %s\n", e.what());
    return 1;
  }
  return 0;
}
