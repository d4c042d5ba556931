// The status table, the error body, lenient JSON, float formatting and the metrics text.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "hades/error.hpp"
#include "server/http_status.hpp"
#include "server/json_text.hpp"
#include "server/metrics.hpp"
#include "server/responses.hpp"

namespace hades::server {
namespace {

using nlohmann::json;

TEST(ServerStatus, TableOfDocsProtocol) {
  EXPECT_EQ(http_status(ErrorCode::invalid_argument), 400);
  EXPECT_EQ(http_status(ErrorCode::not_found), 404);
  EXPECT_EQ(http_status(ErrorCode::model_not_found), 404);
  EXPECT_EQ(http_status(ErrorCode::conflict), 409);
  EXPECT_EQ(http_status(ErrorCode::too_large), 413);
  EXPECT_EQ(http_status(ErrorCode::input_invalid), 422);
  EXPECT_EQ(http_status(ErrorCode::unsupported), 422);
  EXPECT_EQ(http_status(ErrorCode::overloaded), 429);
  EXPECT_EQ(http_status(ErrorCode::invalid_model), 500);
  EXPECT_EQ(http_status(ErrorCode::out_of_memory), 507);
  EXPECT_EQ(http_status(ErrorCode::loading), 503);
  EXPECT_EQ(http_status(ErrorCode::shutting_down), 503);
  EXPECT_EQ(http_status(ErrorCode::io_error), 500);
  EXPECT_EQ(http_status(ErrorCode::internal), 500);
  EXPECT_EQ(http_status(ErrorCode::connection_refused), 503);
}

TEST(ServerStatus, ErrorBodyShape) {
  const json body = json::parse(error_body(ErrorCode::model_not_found, "Model not found: x"));
  EXPECT_EQ(body,
            json::parse(R"({"error":{"code":"model_not_found","message":"Model not found: x"}})"));
}

TEST(ServerStatus, ErrorBodyToleratesInvalidUtf8) {
  const std::string text = error_body(ErrorCode::invalid_model, "bad byte \xFF in file");
  const json body = json::parse(text);  // the output itself is valid UTF-8
  EXPECT_EQ(body["error"]["message"], "bad byte \xEF\xBF\xBD in file");
}

TEST(ServerJson, FindInvalidUtf8) {
  EXPECT_EQ(find_invalid_utf8(""), std::nullopt);
  EXPECT_EQ(find_invalid_utf8("plain ascii"), std::nullopt);
  EXPECT_EQ(find_invalid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"),
            std::nullopt);
  EXPECT_EQ(find_invalid_utf8("ab\x80"), 2u);            // continuation without a lead
  EXPECT_EQ(find_invalid_utf8("\xC1\xBF"), 0u);          // overlong
  EXPECT_EQ(find_invalid_utf8("\xE0\x9F\xBF"), 0u);      // overlong
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);      // surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("x\xF0\x9F\x98"), 1u);     // truncated
  EXPECT_EQ(find_invalid_utf8("\xFF"), 0u);
}

TEST(ServerJson, FloatsRoundTrip) {
  for (const float value : {0.0f, -0.0f, 1.0f, 0.1f, -0.123456789f, 1e-30f, 3.4e38f, 1.17e-38f}) {
    std::string text;
    append_json_float(text, value);
    EXPECT_EQ(std::strtof(text.c_str(), nullptr), value) << text;
    EXPECT_NO_THROW(json::parse(text)) << text;
  }
  std::string text;
  append_json_float(text, std::nanf(""));
  EXPECT_EQ(text, "null");
}

TEST(ServerResponses, EmbedBody) {
  runtime::EmbeddingResult result{
      .model = "m", .dimension = 2, .values = {0.5f, -1.25f, 3.0f, 0.1f}, .tokens = 7};
  const json body = json::parse(embed_response_body(result));
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["dimension"], 2);
  EXPECT_EQ(body["usage"]["tokens"], 7);
  ASSERT_EQ(body["embeddings"].size(), 2u);
  EXPECT_EQ(body["embeddings"][0][1].get<float>(), -1.25f);
  EXPECT_EQ(body["embeddings"][1][1].get<float>(), 0.1f);
}

TEST(ServerResponses, TokenizeBody) {
  runtime::TokenizationResult result;
  result.model = "m";
  Encoding e;
  e.ids = {101, 7592, 102};
  e.type_ids = {0, 0, 0};
  e.tokens = {"[CLS]", "hello", "[SEP]"};
  e.offsets = {{0, 0}, {0, 5}, {0, 0}};
  result.encodings.push_back(e);
  const json body = json::parse(tokenize_response_body(result));
  EXPECT_EQ(body, json::parse(R"({"model":"m","encodings":[{"ids":[101,7592,102],
      "tokens":["[CLS]","hello","[SEP]"],"offsets":[[0,0],[0,5],[0,0]],"type_ids":[0,0,0]}]})"));
}

TEST(ServerResponses, RerankIsBestFirstWithSigmoidScores) {
  runtime::ClassificationResult result;
  result.model = "m";
  for (const float logit : {-1.0f, 2.0f, 0.0f}) {
    result.results.push_back(runtime::Classification{.logits = {logit}, .scores = {}});
  }
  const json body = json::parse(rerank_response_body(result, RerankRequest{}));
  ASSERT_EQ(body["results"].size(), 3u);
  EXPECT_EQ(body["results"][0]["index"], 1);
  EXPECT_EQ(body["results"][1]["index"], 2);
  EXPECT_EQ(body["results"][2]["index"], 0);
  EXPECT_NEAR(body["results"][1]["score"].get<double>(), 0.5, 1e-6);
}

TEST(ServerResponses, RerankKeepsTheBestTopNWithTheirDocuments) {
  runtime::ClassificationResult result;
  result.model = "m";
  RerankRequest request{.top_n = 2, .return_documents = true};
  for (const float logit : {-1.0f, 2.0f, 0.0f}) {
    result.results.push_back(runtime::Classification{.logits = {logit}, .scores = {}});
    request.pairs.pairs.push_back("doc " + std::to_string(static_cast<int>(logit)));
  }
  const json body = json::parse(rerank_response_body(result, request));
  ASSERT_EQ(body["results"].size(), 2u);
  EXPECT_EQ(body["results"][0]["index"], 1);
  EXPECT_EQ(body["results"][0]["document"]["text"], "doc 2");
  EXPECT_EQ(body["results"][1]["document"]["text"], "doc 0");
  EXPECT_EQ(body["results"][1]["relevance_score"], body["results"][1]["score"]);
  EXPECT_FALSE(json::parse(rerank_response_body(result, RerankRequest{}))["results"][0].contains(
      "document"));
}

TEST(ServerResponses, RawRerankScoresAreTheRelevantLabelsLogit) {
  runtime::ClassificationResult result;
  result.model = "m";
  result.results.push_back(runtime::Classification{.logits = {-1.5f}, .scores = {}});
  result.results.push_back(runtime::Classification{.logits = {3.0f, 0.25f}, .scores = {}});
  const json body = json::parse(rerank_response_body(result, RerankRequest{.raw_scores = true}));
  ASSERT_EQ(body["results"].size(), 2u);
  EXPECT_EQ(body["results"][0]["index"], 1);
  EXPECT_FLOAT_EQ(body["results"][0]["score"].get<float>(), 0.25f);
  EXPECT_FLOAT_EQ(body["results"][1]["score"].get<float>(), -1.5f);
}

TEST(ServerResponses, ModelInfoHasErrorOnlyWhenFailed) {
  runtime::LoadedModel ready{
      .id = "a", .state = runtime::ModelState::ready, .device = "cpu", .kind = "embedding"};
  EXPECT_FALSE(model_info_json(ready).contains("error"));
  EXPECT_EQ(model_info_json(ready)["state"], "ready");
  runtime::LoadedModel failed{
      .id = "b", .state = runtime::ModelState::failed, .error = "no tokenizer.json"};
  EXPECT_EQ(model_info_json(failed)["error"], "no tokenizer.json");
  EXPECT_EQ(model_info_json(failed)["state"], "failed");
}

TEST(ServerResponses, ModelInfoNamesItsDtype) {
  const runtime::LoadedModel int8{
      .id = "a", .state = runtime::ModelState::ready, .kind = "embedding", .dtype = "int8"};
  EXPECT_EQ(model_info_json(int8)["dtype"], "int8");
}

TEST(ServerResponses, ModelInfoNamesItsModelTypeAndTask) {
  const runtime::LoadedModel xlmr{.id = "a",
                                  .state = runtime::ModelState::ready,
                                  .kind = "sequence-classification",
                                  .model_type = "xlm-roberta"};
  EXPECT_EQ(model_info_json(xlmr)["model_type"], "xlm-roberta");
  EXPECT_EQ(model_info_json(xlmr)["kind"], "sequence-classification");
}

TEST(ServerMetrics, PrometheusText) {
  Metrics metrics;
  metrics.record("/v1/embed", 200, std::chrono::milliseconds(3));
  metrics.record("/v1/embed", 200, std::chrono::milliseconds(40));
  metrics.record("/v1/embed", 429, std::chrono::microseconds(10));
  EXPECT_EQ(metrics.requests_total(), 3u);
  runtime::EngineStats stats;
  stats.batches = 4;
  stats.batched_requests = 10;
  const std::string text = metrics.render(
      ServerGauges{.requests_in_flight = 2}, stats,
      {runtime::LoadedModel{
          .id = "org/\"odd\"", .state = runtime::ModelState::ready, .memory_bytes = 1024}});
  const auto has = [&](const std::string& line) { return text.find(line) != std::string::npos; };
  EXPECT_TRUE(has("hades_http_requests_total{route=\"/v1/embed\",status=\"200\"} 2\n"));
  EXPECT_TRUE(has("hades_http_requests_total{route=\"/v1/embed\",status=\"429\"} 1\n"));
  EXPECT_TRUE(
      has("hades_http_request_duration_seconds_bucket{route=\"/v1/embed\",le=\"0.005\"} 2\n"));
  EXPECT_TRUE(
      has("hades_http_request_duration_seconds_bucket{route=\"/v1/embed\",le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(has("hades_http_request_duration_seconds_count{route=\"/v1/embed\"} 3\n"));
  EXPECT_TRUE(has("hades_http_requests_in_flight 2\n"));
  EXPECT_TRUE(has("hades_engine_batches_total 4\n"));
  EXPECT_TRUE(has("hades_engine_mean_batch_requests 2.5\n"));
  EXPECT_TRUE(has("hades_model_memory_bytes{model=\"org/\\\"odd\\\"\",state=\"ready\"} 1024\n"));
  EXPECT_TRUE(has("# TYPE hades_http_request_duration_seconds histogram\n"));
}

TEST(ServerMetrics, EngineHistogramsAndPerModelTaskSeries) {
  runtime::EngineStats stats;
  stats.queued_sequences = 7;
  stats.batch_sequences.observe(3);
  stats.batch_sequences.observe(40);
  stats.batch_tokens.observe(100);
  stats.registry.unloads[static_cast<size_t>(runtime::UnloadReason::keep_alive)] = 2;
  stats.registry.load_seconds[static_cast<size_t>(runtime::LoadOutcome::failed)].observe(0.3);
  runtime::TaskStats embed{.model = "org/m", .task = runtime::EngineTask::token_classify};
  embed.outcomes = {{"ok", 5}, {"overloaded", 1}};
  embed.duration.observe(0.02);
  embed.queue.observe(0.004);
  embed.inference.observe(0.012);
  stats.requests = {embed};
  const std::string text = Metrics().render(ServerGauges{}, stats, {});
  const auto has = [&](const std::string& line) { return text.find(line) != std::string::npos; };
  EXPECT_TRUE(has("hades_engine_queued_sequences 7\n"));
  EXPECT_TRUE(has("# TYPE hades_engine_batch_sequences histogram\n"));
  EXPECT_TRUE(has("hades_engine_batch_sequences_bucket{le=\"2\"} 0\n"));
  EXPECT_TRUE(has("hades_engine_batch_sequences_bucket{le=\"4\"} 1\n"));
  EXPECT_TRUE(has("hades_engine_batch_sequences_bucket{le=\"64\"} 2\n"));
  EXPECT_TRUE(has("hades_engine_batch_sequences_sum 43\n"));
  EXPECT_TRUE(has("hades_engine_batch_sequences_count 2\n"));
  EXPECT_TRUE(has("hades_engine_batch_tokens_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_TRUE(has("hades_engine_unloads_total{reason=\"keep_alive\"} 2\n"));
  EXPECT_TRUE(has("hades_engine_unloads_total{reason=\"max_models\"} 0\n"));
  EXPECT_TRUE(has("hades_engine_load_duration_seconds_bucket{outcome=\"failed\",le=\"0.25\"} 0\n"));
  EXPECT_TRUE(has("hades_engine_load_duration_seconds_bucket{outcome=\"failed\",le=\"0.5\"} 1\n"));
  EXPECT_TRUE(has("hades_engine_load_duration_seconds_count{outcome=\"loaded\"} 0\n"));
  const std::string labels = "model=\"org/m\",task=\"token-classify\"";
  EXPECT_TRUE(has("hades_task_requests_total{" + labels + ",outcome=\"ok\"} 5\n"));
  EXPECT_TRUE(has("hades_task_requests_total{" + labels + ",outcome=\"overloaded\"} 1\n"));
  EXPECT_TRUE(has("hades_task_request_duration_seconds_bucket{" + labels + ",le=\"0.025\"} 1\n"));
  EXPECT_TRUE(has("hades_task_queue_duration_seconds_bucket{" + labels + ",le=\"0.0025\"} 0\n"));
  EXPECT_TRUE(has("hades_task_queue_duration_seconds_bucket{" + labels + ",le=\"0.005\"} 1\n"));
  EXPECT_TRUE(has("hades_task_inference_duration_seconds_count{" + labels + "} 1\n"));
  EXPECT_TRUE(has("# TYPE hades_task_inference_duration_seconds histogram\n"));
  // Every family is announced once.
  EXPECT_EQ(text.find("# TYPE hades_task_requests_total"),
            text.rfind("# TYPE hades_task_requests_total"));
}

}  // namespace
}  // namespace hades::server
