// Verbs for classifier models through the service: `classify`, `rerank`, `chunk`.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client_output.hpp"
#include "commands.hpp"
#include "hades/error.hpp"
#include "text_batches.hpp"

namespace hades::cli {
namespace {

struct TaskArgs {
  ClientArgs client;
  std::string model;
  std::vector<std::string> texts;  // classify: texts; rerank: query then documents
  std::string file;                // chunk: a file, or - for stdin
  ChunkingOptions chunking;        // chunk: window override, clean-up, snapping
  RerankOptions rerank;            // rerank: raw scores
};

void print_classification(const ClientArgs& args, size_t index, const Classification& c,
                          const std::string& model, const std::string& text) {
  if (!args.json && !args.jsonl) {
    std::printf("[%zu] %-16s %.4f   %s\n", index + 1, c.label.c_str(), static_cast<double>(c.score),
                text.c_str());
    return;
  }
  nlohmann::json scores = nlohmann::json::array();
  for (const ClassScore& s : c.scores) scores.push_back({{"label", s.label}, {"score", s.score}});
  nlohmann::json result = {{"label", c.label}, {"score", c.score}, {"scores", scores}};
  if (args.json) {
    return print_json_item(index, "{\"model\":" + json_text(model) + ",\"results\":[",
                           json_text(result));
  }
  result["index"] = index;
  print_json(result);
}

void run_classify(const TaskArgs& args) {
  ModelClient client(client_options(args.client));
  TextBatches batches(args.texts, args.model, service_request_limits(client));
  ProgressLine progress(batches);
  for (std::vector<std::string> texts = batches.next(); !texts.empty(); texts = batches.next()) {
    const ClassificationResult result = client.classify(args.model, texts);
    for (size_t i = 0; i < result.results.size(); ++i) {
      print_classification(args.client, batches.first_index() + i, result.results[i], result.model,
                           texts.at(i));
    }
    std::fflush(stdout);
    progress.update(batches.first_index() + texts.size());
  }
  if (args.client.json) std::printf("]}\n");
}

void run_rerank(const TaskArgs& args) {
  if (args.texts.size() < 2) throw Error(ErrorCode::invalid_argument, "rerank needs QUERY DOC...");
  const std::vector<std::string> documents(args.texts.begin() + 1, args.texts.end());
  const RerankResult result = ModelClient(client_options(args.client))
                                  .rerank(args.model, args.texts.front(), documents, args.rerank);
  if (args.client.json) {
    nlohmann::json results = nlohmann::json::array();
    for (const RerankHit& r : result.results) {
      results.push_back({{"index", r.index}, {"score", r.score}});
    }
    return print_json({{"model", result.model}, {"results", results}});
  }
  for (const RerankHit& r : result.results) {
    std::printf("%.4f  [%zu] %s\n", static_cast<double>(r.score), r.index + 1,
                documents.at(r.index).c_str());
  }
}

std::string read_document(const std::string& file) {
  if (file.empty() || file == "-") {
    return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorCode::not_found, file + ": cannot open the file to chunk");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run_chunk(const TaskArgs& args) {
  const ChunkingResult result = ModelClient(client_options(args.client))
                                    .chunk(args.model, {read_document(args.file)}, args.chunking);
  const std::vector<TextChunk>& chunks = result.results.at(0).chunks;
  if (args.client.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const TextChunk& c : chunks) {
      list.push_back({{"text", c.text}, {"start", c.start}, {"end", c.end}, {"score", c.score}});
    }
    return print_json({{"model", result.model}, {"chunks", list}});
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::printf("──── chunk %zu [%lld, %lld) ────\n%s\n", i + 1,
                static_cast<long long>(chunks[i].start), static_cast<long long>(chunks[i].end),
                chunks[i].text.c_str());
  }
}

}  // namespace

void add_task_commands(CLI::App& app) {
  auto* classify = app.add_subcommand("classify", "Classify TEXTs (or stdin lines with -)");
  auto classify_args = std::make_shared<TaskArgs>();
  add_client_flags(*classify, classify_args->client);
  classify->add_option("model", classify_args->model, "model id or folder")->required();
  classify->add_option("texts", classify_args->texts, "texts, or - for stdin")->required();
  add_jsonl_flag(*classify, classify_args->client);
  classify->callback([classify_args] { run_classify(*classify_args); });

  auto* rerank = app.add_subcommand("rerank", "Rank DOCs by relevance to QUERY (cross-encoder)");
  auto rerank_args = std::make_shared<TaskArgs>();
  add_client_flags(*rerank, rerank_args->client);
  rerank->add_option("model", rerank_args->model, "model id or folder")->required();
  rerank->add_option("query_and_documents", rerank_args->texts, "QUERY DOC...")->required();
  rerank->add_flag("--raw-scores", rerank_args->rerank.raw_scores,
                   "the model's logits instead of probabilities");
  rerank->callback([rerank_args] { run_rerank(*rerank_args); });

  auto* chunk = app.add_subcommand("chunk", "Split a document into chunks with a chonky model");
  auto chunk_args = std::make_shared<TaskArgs>();
  add_client_flags(*chunk, chunk_args->client);
  chunk->add_option("model", chunk_args->model, "model id or folder")->required();
  chunk->add_option("file", chunk_args->file, "the document, or - (default) for stdin");
  chunk->add_option("--max-length", chunk_args->chunking.max_length, "window length in tokens");
  chunk
      ->add_option("--clean", chunk_args->chunking.clean,
                   "clean the text first as chonky's MarkupRemover: text, html or xml")
      ->check(CLI::IsMember({"none", "text", "html", "xml"}));
  chunk->add_flag("--snap", chunk_args->chunking.snap_to_whitespace,
                  "move cuts that fall inside a word to the end of the word");
  chunk->callback([chunk_args] { run_chunk(*chunk_args); });
}

}  // namespace hades::cli
