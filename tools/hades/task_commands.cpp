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

namespace hades::cli {
namespace {

struct TaskArgs {
  ClientArgs client;
  std::string model;
  std::vector<std::string> texts;  // classify: texts; rerank: query then documents
  std::string file;                // chunk: a file, or - for stdin
  int64_t max_length = 0;          // chunk: window override (0: the model's)
};

nlohmann::json post(const TaskArgs& args, const char* route, const nlohmann::json& body) {
  ModelClient client(client_options(args.client));
  return nlohmann::json::parse(client.request("POST", route, body.dump()));
}

void run_classify(const TaskArgs& args) {
  const std::vector<std::string> texts = texts_or_stdin(args.texts);
  const nlohmann::json reply =
      post(args, "/v1/classify", {{"model", args.model}, {"inputs", texts}});
  if (args.client.json) return print_json(reply);
  const auto& results = reply.at("results");
  for (size_t i = 0; i < results.size(); ++i) {
    std::printf("[%zu] %-16s %.4f   %s\n", i + 1, results[i].at("label").get<std::string>().c_str(),
                results[i].at("score").get<double>(), texts[i].c_str());
  }
}

void run_rerank(const TaskArgs& args) {
  if (args.texts.size() < 2) throw Error(ErrorCode::invalid_argument, "rerank needs QUERY DOC...");
  const std::vector<std::string> documents(args.texts.begin() + 1, args.texts.end());
  const nlohmann::json reply =
      post(args, "/v1/rerank",
           {{"model", args.model}, {"query", args.texts.front()}, {"documents", documents}});
  if (args.client.json) return print_json(reply);
  for (const auto& r : reply.at("results")) {
    const auto index = r.at("index").get<size_t>();
    std::printf("%.4f  [%zu] %s\n", r.at("score").get<double>(), index + 1,
                documents[index].c_str());
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
  nlohmann::json body = {{"model", args.model}, {"inputs", {read_document(args.file)}}};
  if (args.max_length > 0) body["max_length"] = args.max_length;
  const nlohmann::json reply = post(args, "/v1/chunk", body);
  nlohmann::json chunks = nlohmann::json::array();
  for (const auto& c : reply.at("results").at(0).at("chunks")) {
    chunks.push_back({{"text", c.at("text")}, {"start", c.at("start")}, {"end", c.at("end")}});
  }
  if (args.client.json) return print_json({{"model", reply.at("model")}, {"chunks", chunks}});
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::printf("──── chunk %zu [%lld, %lld) ────\n%s\n", i + 1,
                static_cast<long long>(chunks[i].at("start").get<int64_t>()),
                static_cast<long long>(chunks[i].at("end").get<int64_t>()),
                chunks[i].at("text").get<std::string>().c_str());
  }
}

}  // namespace

void add_task_commands(CLI::App& app) {
  auto* classify = app.add_subcommand("classify", "Classify TEXTs (or stdin lines with -)");
  auto classify_args = std::make_shared<TaskArgs>();
  add_client_flags(*classify, classify_args->client);
  classify->add_option("model", classify_args->model, "model id or folder")->required();
  classify->add_option("texts", classify_args->texts, "texts, or - for stdin")->required();
  classify->callback([classify_args] { run_classify(*classify_args); });

  auto* rerank = app.add_subcommand("rerank", "Rank DOCs by relevance to QUERY (cross-encoder)");
  auto rerank_args = std::make_shared<TaskArgs>();
  add_client_flags(*rerank, rerank_args->client);
  rerank->add_option("model", rerank_args->model, "model id or folder")->required();
  rerank->add_option("query_and_documents", rerank_args->texts, "QUERY DOC...")->required();
  rerank->callback([rerank_args] { run_rerank(*rerank_args); });

  auto* chunk = app.add_subcommand("chunk", "Split a document into chunks with a chonky model");
  auto chunk_args = std::make_shared<TaskArgs>();
  add_client_flags(*chunk, chunk_args->client);
  chunk->add_option("model", chunk_args->model, "model id or folder")->required();
  chunk->add_option("file", chunk_args->file, "the document, or - (default) for stdin");
  chunk->add_option("--max-length", chunk_args->max_length, "window length in tokens");
  chunk->callback([chunk_args] { run_chunk(*chunk_args); });
}

}  // namespace hades::cli
