// SPLADE through the real service next to MiniLM (issue 25): SparseEncoder folders saved by
// sentence-transformers 6 load by folder and by id from a Hugging Face cache laid out here, answer
// POST /v1/embed-sparse, TEI's POST /embed_sparse (and /) and ModelClient::embed_sparse with the
// references' vectors, are listed with their kind, and refuse the dense routes (as MiniLM refuses
// the sparse ones). A SPLADE folder with a hostile config fails to load with the file and field
// named, and the service stays up.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cached_models_server.hpp"
#include "hades/client.hpp"
#include "server_harness.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSpladeId = "hades-test/splade-bert";

fs::path fixture(const std::string& name) {
  return data_dir() / "models" / name;
}

json reference(const fs::path& dir) {
  std::ifstream in(dir / "reference.json");
  return json::parse(in);
}

class ClientSplade : public CachedModelsServer {
 protected:
  void SetUp() override { start({{kSpladeId, fixture("tiny-splade-bert-max")}}); }
};

// Same indices as SparseEncoder.encode, values within 1e-4.
void expect_vector(const std::vector<int64_t>& indices, const std::vector<float>& values,
                   const json& expected, const std::string& what) {
  ASSERT_EQ(indices, expected.at("indices").get<std::vector<int64_t>>()) << what;
  EXPECT_LE(max_abs_diff(values, expected.at("values").get<std::vector<float>>()), 1e-4f) << what;
}

void expect_hades_vectors(const HttpResponse& reply, const json& expected) {
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json got = reply.json().at("embeddings");
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    expect_vector(got[i].at("indices").get<std::vector<int64_t>>(),
                  got[i].at("values").get<std::vector<float>>(), expected[i],
                  "text " + std::to_string(i));
  }
}

// TEI's shape: per input a list of {"index", "value"}.
void expect_tei_vectors(const HttpResponse& reply, const json& expected) {
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json got = reply.json();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    std::vector<int64_t> indices;
    std::vector<float> values;
    for (const json& entry : got[i]) {
      ASSERT_EQ(entry.size(), 2U) << entry;
      indices.push_back(entry.at("index").get<int64_t>());
      values.push_back(entry.at("value").get<float>());
    }
    expect_vector(indices, values, expected[i], "text " + std::to_string(i));
  }
}

TEST_F(ClientSplade, SparseVectorsBesideMiniLmByFolderAndById) {
  const fs::path folder = fixture("tiny-splade-bert-max");
  const json ref = reference(folder);
  const json& texts = ref.at("texts");
  ASSERT_EQ(load(minilm_dir().string()).status, 200);
  for (const std::string& model : {folder.string(), std::string(kSpladeId)}) {
    SCOPED_TRACE(model);
    ASSERT_EQ(load(model).status, 200) << server_->output();
    expect_hades_vectors(
        post_json(socket(), "/v1/embed-sparse", {{"model", model}, {"inputs", texts}}),
        ref.at("embeddings"));
    expect_hades_vectors(post_json(socket(), "/v1/embed-sparse",
                                   {{"model", model}, {"inputs", texts}, {"prompt_name", "query"}}),
                         ref.at("embeddings_prompt_query"));
    // TEI truncates only when asked; the reference's long texts were cut at max_seq_length.
    // TEI's POST / answers a sparse model as /embed_sparse.
    for (const char* route : {"/embed_sparse", "/"}) {
      expect_tei_vectors(
          post_json(socket(), route, {{"model", model}, {"inputs", texts}, {"truncate", true}}),
          ref.at("embeddings"));
    }
  }
  expect_minilm_embeds();
  const json models = http(socket(), "GET", "/v1/models").json().at("models");
  for (const json& m : models) {
    if (m.at("kind") == "sparse-embedding") {
      EXPECT_EQ(m.at("dimension"), ref.at("vocab_size"));
    }
  }
  const std::pair<std::string, std::string> sparse = {"bert", "sparse-embedding"};
  EXPECT_EQ(listed_models(), (std::map<std::string, std::pair<std::string, std::string>>{
                                 {minilm_dir().string(), {"bert", "embedding"}},
                                 {folder.string(), sparse},
                                 {kSpladeId, sparse},
                             }));
}

TEST_F(ClientSplade, DenseAndSparseRoutesRefuseTheOtherKind) {
  const std::string splade = fixture("tiny-splade-distilbert-sum").string();
  const json inputs = {"a text"};
  for (const char* route : {"/v1/embed", "/embed", "/v1/embeddings"}) {
    SCOPED_TRACE(route);
    const HttpResponse reply = post_json(
        socket(), route,
        {{"model", splade}, {std::string(route) == "/v1/embeddings" ? "input" : "inputs", inputs}});
    EXPECT_EQ(reply.status, 422) << reply.body;  // unsupported
    EXPECT_NE(reply.body.find("sparse-embedding"), std::string::npos) << reply.body;
  }
  for (const char* route : {"/v1/embed-sparse", "/embed_sparse"}) {
    SCOPED_TRACE(route);
    const HttpResponse reply =
        post_json(socket(), route, {{"model", minilm_dir().string()}, {"inputs", inputs}});
    EXPECT_EQ(reply.status, 422) << reply.body;
    EXPECT_NE(reply.body.find("dense embedding model"), std::string::npos) << reply.body;
  }
  const HttpResponse normalize = post_json(
      socket(), "/v1/embed-sparse", {{"model", splade}, {"inputs", inputs}, {"normalize", true}});
  EXPECT_EQ(normalize.status, 400) << normalize.body;
  EXPECT_NE(normalize.body.find("normalize"), std::string::npos) << normalize.body;
}

TEST_F(ClientSplade, ModelClientEmbedsSparse) {
  const fs::path folder = fixture("tiny-splade-distilbert-sum");
  const json ref = reference(folder);
  ModelClient client({.socket_path = socket().string(), .autostart = false});
  const auto texts = ref.at("texts").get<std::vector<std::string>>();
  const SparseEmbeddingResult result = client.embed_sparse(folder.string(), texts);
  EXPECT_EQ(result.dimension, ref.at("vocab_size").get<int64_t>());
  EXPECT_GT(result.tokens, 0);
  ASSERT_EQ(result.embeddings.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    expect_vector(result.embeddings[i].indices, result.embeddings[i].values,
                  ref.at("embeddings")[i], "text " + std::to_string(i));
  }
  try {
    client.embed(folder.string(), texts);
    ADD_FAILURE() << "a sparse model gave dense embeddings";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported) << e.what();
  }
}

// A copy of a SPLADE folder with one file changed.
fs::path hostile_copy(const fs::path& root, const std::string& name, const fs::path& file,
                      const std::string& text) {
  const fs::path dir = root / name;
  fs::copy(fixture("tiny-splade-bert-max"), dir, fs::copy_options::recursive);
  std::ofstream(dir / file) << text;
  return dir;
}

TEST_F(ClientSplade, HostileConfigsFailNamingTheFieldAndTheServiceStaysUp) {
  const TempDir root;
  const std::vector<std::pair<fs::path, std::string>> cases = {
      {hostile_copy(root.path(), "strategy", "1_SpladePooling/config.json",
                    R"({"pooling_strategy": "mean"})"),
       "pooling_strategy"},
      {hostile_copy(root.path(), "activation", "1_SpladePooling/config.json",
                    R"({"activation_function": 3})"),
       "activation_function"},
      {hostile_copy(root.path(), "dimension", "1_SpladePooling/config.json",
                    R"({"embedding_dimension": 7})"),
       "embedding_dimension"},
      {hostile_copy(root.path(), "active", "config_sentence_transformers.json",
                    R"({"max_active_dims": -2})"),
       "max_active_dims"},
      {hostile_copy(root.path(), "no-mlm", "sentence_bert_config.json", "{}"), "masked-LM"},
      {hostile_copy(root.path(), "untied", "config.json",
                    R"({"model_type": "bert", "architectures": ["BertForMaskedLM"],
                             "vocab_size": 600, "hidden_size": 32, "num_hidden_layers": 2,
                             "num_attention_heads": 2, "intermediate_size": 64,
                             "max_position_embeddings": 128, "tie_word_embeddings": false})"),
       "tie_word_embeddings"},
      {hostile_copy(root.path(), "vocab", "config.json",
                    R"({"model_type": "bert", "vocab_size": 601, "hidden_size": 32,
                        "num_hidden_layers": 2, "num_attention_heads": 2,
                        "intermediate_size": 64, "max_position_embeddings": 128})"),
       "word_embeddings"},
  };
  for (const auto& [dir, named] : cases) {
    SCOPED_TRACE(dir.string());
    const HttpResponse reply = load(dir.string());
    EXPECT_GE(reply.status, 400) << reply.body;
    EXPECT_NE(reply.body.find(named), std::string::npos) << reply.body;
    EXPECT_EQ(http(socket(), "GET", "/health").status, 200);
  }
  EXPECT_EQ(load(fixture("tiny-splade-bert-max").string()).status, 200);
}

}  // namespace
}  // namespace hades::test
