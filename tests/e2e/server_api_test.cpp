// The protocol against the real `hades serve` (docs/protocol.md): every route, results equal to
// the in-process model, and bad input answered with the documented status and code while the
// server stays up. One server for the suite.
#include <memory>
#include <string>
#include <vector>

#include "e2e/server_harness.hpp"
#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades::test {
namespace {

using nlohmann::json;

constexpr size_t kMaxInputs = 8;
constexpr size_t kMaxBodyBytes = 256 * 1024;

class ServerApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<SocketDir>();
    server_ = std::make_unique<ServerProcess>(
        dir_->socket(), ServeOptions{.args = {"--max-inputs", std::to_string(kMaxInputs),
                                              "--max-body", std::to_string(kMaxBodyBytes)}});
    ASSERT_TRUE(server_->wait_ready()) << server_->output();
    model_ = EmbeddingModel::load(minilm_dir());
  }
  static void TearDownTestSuite() {
    // A clean exit after everything the suite threw at it (under the sanitizers, also no error
    // and no leak).
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
    server_.reset();
    dir_.reset();
    model_.reset();
  }
  void TearDown() override {
    // Whatever a test sent, the server is still up and answering.
    EXPECT_EQ(http(socket(), "GET", "/health").status, 200) << server_->output();
  }

  static std::filesystem::path socket() { return dir_->socket(); }
  static std::string minilm() { return minilm_dir().string(); }

  static std::unique_ptr<SocketDir> dir_;
  static std::unique_ptr<ServerProcess> server_;
  static std::unique_ptr<EmbeddingModel> model_;
};

std::unique_ptr<SocketDir> ServerApi::dir_;
std::unique_ptr<ServerProcess> ServerApi::server_;
std::unique_ptr<EmbeddingModel> ServerApi::model_;

std::vector<float> flatten(const json& rows) {
  std::vector<float> out;
  for (const json& row : rows) {
    for (const json& v : row) out.push_back(v.get<float>());
  }
  return out;
}

TEST_F(ServerApi, Health) {
  const HttpResponse r = http(socket(), "GET", "/health");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  const json body = r.json();
  EXPECT_EQ(body["status"], "ok");
  EXPECT_TRUE(body["version"].is_string());
  EXPECT_GE(body["uptime_seconds"].get<double>(), 0.0);
}

TEST_F(ServerApi, Status) {
  const json body = http(socket(), "GET", "/v1/status").json();
  EXPECT_EQ(body["running"], true);
  EXPECT_EQ(body["pid"], server_->pid());
  EXPECT_EQ(body["socket"], socket().string());
  EXPECT_EQ(body["device"], "cpu");
  EXPECT_EQ(body["limits"]["max_inputs"], kMaxInputs);
  EXPECT_EQ(body["limits"]["max_body_bytes"], kMaxBodyBytes);
  EXPECT_EQ(body["limits"]["max_models"], 3);
  EXPECT_TRUE(body["models"].is_array());
  EXPECT_TRUE(body["stats"].contains("batches"));
}

TEST_F(ServerApi, LoadByFolderEmbedAndTokenizeMatchInProcess) {
  const HttpResponse load = post_json(socket(), "/v1/models/load", {{"model", minilm()}});
  ASSERT_EQ(load.status, 200) << load.body;
  const json info = load.json()["model"];
  EXPECT_EQ(info["id"], minilm());
  EXPECT_EQ(info["state"], "ready");
  EXPECT_EQ(info["dimension"], 384);
  EXPECT_GT(info["memory_bytes"].get<uint64_t>(), 0u);

  const std::vector<std::string> texts = {"The cat sits outside.", "A man plays guitar.",
                                          "caf\xC3\xA9 \xF0\x9F\x98\x80 na\xC3\xAFve"};
  const HttpResponse embed =
      post_json(socket(), "/v1/embed", {{"model", minilm()}, {"inputs", texts}});
  ASSERT_EQ(embed.status, 200) << embed.body;
  const json body = embed.json();
  EXPECT_EQ(body["model"], minilm());
  EXPECT_EQ(body["dimension"], 384);
  const Embeddings expected = model_->embed(texts);
  EXPECT_EQ(body["usage"]["tokens"], expected.tokens);
  EXPECT_LE(max_abs_diff(flatten(body["embeddings"]), expected.values), 1e-6f);

  EmbedOptions options;
  options.pooling = PoolingMode::cls;
  options.normalize = false;
  const HttpResponse cls = post_json(
      socket(), "/v1/embed",
      {{"model", minilm()}, {"inputs", texts[0]}, {"pooling", "cls"}, {"normalize", false}});
  ASSERT_EQ(cls.status, 200) << cls.body;
  EXPECT_LE(max_abs_diff(flatten(cls.json()["embeddings"]),
                         model_->embed(std::vector<std::string>{texts[0]}, options).values),
            1e-6f);

  const HttpResponse tokenize =
      post_json(socket(), "/v1/tokenize", {{"model", minilm()}, {"inputs", texts}});
  ASSERT_EQ(tokenize.status, 200) << tokenize.body;
  const std::vector<Encoding> encodings = model_->tokenize(texts);
  const json got = tokenize.json()["encodings"];
  ASSERT_EQ(got.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(got[i]["ids"].get<std::vector<int32_t>>(), encodings[i].ids);
    EXPECT_EQ(got[i]["tokens"].get<std::vector<std::string>>(), encodings[i].tokens);
    EXPECT_EQ(got[i]["type_ids"].get<std::vector<int32_t>>(), encodings[i].type_ids);
    EXPECT_EQ(got[i]["offsets"].size(), encodings[i].offsets.size());
  }
  EXPECT_EQ(got[2]["offsets"][1], json::array({0, 4}));  // "café": code points, not bytes

  const json models = http(socket(), "GET", "/v1/models").json()["models"];
  ASSERT_FALSE(models.empty());
  EXPECT_EQ(models[0]["id"], minilm());

  const std::string metrics = http(socket(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("hades_http_requests_total{route=\"/v1/embed\",status=\"200\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("hades_engine_batches_total"), std::string::npos);

  const HttpResponse unload = post_json(socket(), "/v1/models/unload", {{"model", minilm()}});
  ASSERT_EQ(unload.status, 200) << unload.body;
  EXPECT_EQ(unload.json(), json({{"model", minilm()}, {"unloaded", true}}));
  const HttpResponse again = post_json(socket(), "/v1/models/unload", {{"model", minilm()}});
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.error_code(), "model_not_found");
}

TEST_F(ServerApi, ModelFolderWithoutTokenizerFailsCleanly) {
  const std::string folder = (data_dir() / "models" / "tiny-bert-h32-a2-l2-gelu").string();
  const HttpResponse r = post_json(socket(), "/v1/models/load", {{"model", folder}});
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("tokenizer"), std::string::npos)
      << r.body;
}

TEST_F(ServerApi, UnknownModel) {
  const HttpResponse r =
      post_json(socket(), "/v1/embed", {{"model", "no-such-org/no-such-model"}, {"inputs", "x"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_code(), "model_not_found");
  EXPECT_NE(r.body.find("Model not found: no-such-org/no-such-model"), std::string::npos) << r.body;
}

// The value of one series in a /metrics text; 0 when absent (a counter not incremented yet).
double series_value(const std::string& text, const std::string& series) {
  const std::string start = "\n" + series + " ";
  size_t at = text.find(start);
  if (at == std::string::npos) return 0;
  at += start.size();
  return std::stod(text.substr(at, text.find('\n', at) - at));
}

TEST_F(ServerApi, MetricsCountRequestsPerModelAndTaskBatchesAndUnloads) {
  const std::string before = http(socket(), "GET", "/metrics").body;
  for (int i = 0; i < 3; ++i) {
    const HttpResponse r =
        post_json(socket(), "/v1/embed", {{"model", minilm()}, {"inputs", {"a text", "another"}}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  EXPECT_EQ(
      post_json(socket(), "/v1/embed", {{"model", "no-such-org/no-such-model"}, {"inputs", "x"}})
          .status,
      404);
  ASSERT_EQ(post_json(socket(), "/v1/models/unload", {{"model", minilm()}}).status, 200);
  const std::string after = http(socket(), "GET", "/metrics").body;
  const auto delta = [&](const std::string& series) {
    return series_value(after, series) - series_value(before, series);
  };
  const std::string labels = "model=\"" + minilm() + "\",task=\"embed\"";
  EXPECT_EQ(delta("hades_task_requests_total{" + labels + ",outcome=\"ok\"}"), 3) << after;
  EXPECT_EQ(delta("hades_task_request_duration_seconds_count{" + labels + "}"), 3);
  EXPECT_EQ(delta("hades_task_queue_duration_seconds_count{" + labels + "}"), 3);
  EXPECT_EQ(delta("hades_task_inference_duration_seconds_count{" + labels + "}"), 3);
  EXPECT_EQ(
      delta(
          "hades_task_requests_total{model=\"other\",task=\"embed\",outcome=\"model_not_found\"}"),
      1);
  // One request at a time: each is one batch of its two texts.
  EXPECT_EQ(delta("hades_engine_batch_sequences_count"), 3);
  EXPECT_EQ(delta("hades_engine_batch_sequences_sum"), 6);
  EXPECT_EQ(delta("hades_engine_unloads_total{reason=\"unload\"}"), 1);
  EXPECT_NE(after.find("\nhades_engine_queued_sequences 0\n"), std::string::npos);
  EXPECT_NE(after.find("\nhades_engine_load_duration_seconds_count{outcome=\"loaded\"} "),
            std::string::npos);
}

struct BadRequest {
  const char* what;
  std::string method, target, body;
  int status;
  const char* code;
};

TEST_F(ServerApi, BadInputGetsTheDocumentedStatusAndCode) {
  const std::string m = "\"model\":\"" + minilm() + "\"";
  std::string too_many = "{" + m + ",\"inputs\":[";
  for (size_t i = 0; i <= kMaxInputs; ++i) too_many += (i ? ",\"x\"" : "\"x\"");
  too_many += "]}";
  const std::vector<BadRequest> cases = {
      {"malformed JSON", "POST", "/v1/embed", "{" + m + ",\"inputs\":[", 400, "invalid_argument"},
      {"not an object", "POST", "/v1/embed", "[1,2]", 400, "invalid_argument"},
      {"empty body", "POST", "/v1/embed", "", 400, "invalid_argument"},
      {"inputs a number", "POST", "/v1/embed", "{" + m + ",\"inputs\":3}", 400, "invalid_argument"},
      {"input not a string", "POST", "/v1/embed", "{" + m + ",\"inputs\":[\"a\",1]}", 400,
       "invalid_argument"},
      {"normalize a string", "POST", "/v1/embed",
       "{" + m + ",\"inputs\":\"a\",\"normalize\":\"no\"}", 400, "invalid_argument"},
      {"unknown pooling", "POST", "/v1/embed", "{" + m + ",\"inputs\":\"a\",\"pooling\":\"avg\"}",
       400, "invalid_argument"},
      {"unknown field", "POST", "/v1/embed", "{" + m + ",\"inputs\":\"a\",\"normalise\":true}", 400,
       "invalid_argument"},
      {"empty inputs", "POST", "/v1/embed", "{" + m + ",\"inputs\":[]}", 400, "invalid_argument"},
      {"empty inputs (tokenize)", "POST", "/v1/tokenize", "{" + m + ",\"inputs\":[]}", 400,
       "invalid_argument"},
      {"load without model", "POST", "/v1/models/load", "{}", 400, "invalid_argument"},
      {"too many inputs", "POST", "/v1/embed", too_many, 413, "too_large"},
      {"oversized body", "POST", "/v1/embed",
       "{" + m + ",\"inputs\":\"" + std::string(kMaxBodyBytes + 1, 'a') + "\"}", 413, "too_large"},
      {"invalid UTF-8", "POST", "/v1/embed", "{" + m + ",\"inputs\":[\"ab\xFF\xFE\"]}", 422,
       "input_invalid"},
      {"lone surrogate escape", "POST", "/v1/embed", "{" + m + ",\"inputs\":[\"\\udc00\"]}", 422,
       "input_invalid"},
      {"unknown route", "GET", "/v2/nothing", "", 404, "not_found"},
      {"wrong method", "GET", "/v1/embed", "", 405, "method_not_allowed"},
  };
  for (const BadRequest& c : cases) {
    SCOPED_TRACE(c.what);
    const HttpResponse r = http(socket(), c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.error_code(), c.code) << r.body;
    EXPECT_FALSE(r.json()["error"]["message"].get<std::string>().empty());
    // A 405 names the methods the route takes (RFC 9110 §15.5.6).
    EXPECT_EQ(r.header("allow"), c.status == 405 ? "POST" : "");
  }
}

TEST_F(ServerApi, OverlongInputWithoutTruncationIsInputInvalid) {
  std::string text;
  for (int i = 0; i < 600; ++i) text += "word ";
  const HttpResponse r = post_json(socket(), "/v1/embed",
                                   {{"model", minilm()}, {"inputs", text}, {"truncate", false}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.error_code(), "input_invalid");
}

TEST_F(ServerApi, MalformedHttpIsAnsweredAndClosed) {
  HttpConnection c(socket());
  ASSERT_TRUE(c.send_raw("NOT-HTTP\r\n\r\n"));
  const HttpResponse r = c.read_response();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code(), "invalid_argument");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(ServerApi, KeepAliveServesManyRequestsOnOneConnection) {
  HttpConnection c(socket());
  for (int i = 0; i < 20; ++i) {
    const HttpResponse r = c.request("GET", i % 2 ? "/health" : "/v1/models");
    ASSERT_EQ(r.status, 200) << i;
  }
  const HttpResponse bad = c.request("POST", "/v1/embed", "{oops");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(c.request("GET", "/health").status, 200);  // a 400 for the body keeps the connection
}

TEST_F(ServerApi, IdleConnectionsDoNotStarveOthers) {
  std::vector<std::unique_ptr<HttpConnection>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<HttpConnection>(socket()));
    ASSERT_TRUE(idle.back()->connected());
  }
  idle.back()->send_raw("GET /health HTTP/1.1\r\nHo");  // half a request, never finished
  const auto start = Clock::now();
  EXPECT_EQ(http(socket(), "GET", "/health").status, 200);
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_GE(http(socket(), "GET", "/v1/status").json()["stats"]["connections"].get<int>(), 300);
}

TEST_F(ServerApi, ExpectContinueIsHonoured) {
  HttpConnection c(socket());
  const std::string body = json({{"model", "no/such"}, {"inputs", "x"}}).dump();
  ASSERT_TRUE(
      c.send_raw("POST /v1/embed HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                 "Content-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n"));
  EXPECT_EQ(c.read_response().status, 100);
  ASSERT_TRUE(c.send_raw(body));
  EXPECT_EQ(c.read_response().status, 404);
}

// The protocol's promise that plain curl works.
TEST_F(ServerApi, CurlOverTheUnixSocket) {
  const auto run = [](const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    char chunk[4096];
    size_t n = 0;
    while ((n = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0) out.append(chunk, n);
    ::pclose(pipe);
    return out;
  };
  const std::string curl = "curl -sS --max-time 60 --unix-socket " + socket().string() + " ";
  const json health = json::parse(run(curl + "http://localhost/health"));
  EXPECT_EQ(health["status"], "ok");
  const std::string out = run(curl + "-w '\\n%{http_code}' -d '{\"model\":\"" + minilm() +
                              "\",\"inputs\":[\"hello\"]}' http://localhost/v1/tokenize");
  const size_t split = out.rfind('\n');
  ASSERT_NE(split, std::string::npos) << out;
  EXPECT_EQ(out.substr(split + 1), "200") << out;
  EXPECT_EQ(json::parse(out.substr(0, split))["encodings"][0]["tokens"],
            json::array({"[CLS]", "hello", "[SEP]"}));
}

}  // namespace
}  // namespace hades::test
