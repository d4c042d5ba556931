// sentence-transformers folders: MiniLM's real configs, pooling modes in both config forms, old
// layouts, and the modules hades refuses.
#include "io/sentence_transformers.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "hades/error.hpp"
#include "support/expect_error.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TempDir;
using test::write_file;

constexpr const char* kTransformer =
    R"({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"})";
constexpr const char* kPooling =
    R"({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})";
constexpr const char* kNormalize =
    R"({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})";

std::string modules(std::initializer_list<const char*> entries) {
  std::string text = "[";
  for (const char* entry : entries) text += (text.size() > 1 ? ", " : "") + std::string(entry);
  return text + "]";
}

TEST(SentenceTransformers, ReadsMiniLm) {
  fs::path dir;
  try {
    dir = test::minilm_dir();
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  const std::optional<SentenceTransformerConfig> config = read_sentence_transformer_config(dir);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->transformer_dir, dir);
  EXPECT_EQ(config->max_seq_length, 256);
  EXPECT_FALSE(config->do_lower_case);
  ASSERT_TRUE(config->pooling);
  EXPECT_EQ(config->pooling->modes, std::vector<PoolingMode>{PoolingMode::mean});
  EXPECT_EQ(config->pooling->word_embedding_dimension, 384);
  EXPECT_TRUE(config->pooling->include_prompt);
  EXPECT_TRUE(config->normalize);
  EXPECT_TRUE(config->prompts.empty());
}

TEST(SentenceTransformers, PlainTransformersFolderHasNone) {
  const TempDir dir;
  write_file(dir.path() / "config.json", "{}");
  EXPECT_FALSE(read_sentence_transformer_config(dir.path()));
}

TEST(SentenceTransformers, ReadsPoolingFlagsInConcatenationOrder) {
  const TempDir dir;
  write_file(dir.path() / "modules.json", modules({kTransformer, kPooling}));
  // Key order in the file does not matter: sentence-transformers concatenates cls, max, mean, ...
  write_file(dir.path() / "1_Pooling" / "config.json",
             R"({"pooling_mode_lasttoken": true, "pooling_mode_mean_tokens": true,
                 "pooling_mode_cls_token": true, "pooling_mode_max_tokens": false,
                 "pooling_mode_mean_sqrt_len_tokens": true,
                 "pooling_mode_weightedmean_tokens": true, "include_prompt": false})");
  const auto config = read_sentence_transformer_config(dir.path());
  ASSERT_TRUE(config && config->pooling);
  EXPECT_EQ(
      config->pooling->modes,
      (std::vector<PoolingMode>{PoolingMode::cls, PoolingMode::mean, PoolingMode::mean_sqrt_len,
                                PoolingMode::weighted_mean, PoolingMode::last_token}));
  EXPECT_FALSE(config->pooling->include_prompt);
  EXPECT_FALSE(config->normalize);
  EXPECT_FALSE(config->max_seq_length);  // no sentence_bert_config.json
}

TEST(SentenceTransformers, ReadsThePoolingModeString) {
  const TempDir dir;
  const fs::path path = dir.path() / "config.json";
  write_file(path, R"({"pooling_mode": "CLS", "pooling_mode_mean_tokens": true})");
  EXPECT_EQ(read_pooling_config(path).modes, std::vector<PoolingMode>{PoolingMode::cls});
  write_file(path, R"({"pooling_mode": "lasttoken"})");
  EXPECT_EQ(read_pooling_config(path).modes, std::vector<PoolingMode>{PoolingMode::last_token});
  write_file(path, R"({"pooling_mode": "mean_sqrt_len_tokens"})");
  EXPECT_EQ(read_pooling_config(path).modes, std::vector<PoolingMode>{PoolingMode::mean_sqrt_len});
  write_file(path, R"({"pooling_mode": "median"})");
  expect_error([&] { read_pooling_config(path); }, ErrorCode::invalid_model,
               {path.string(), "'pooling_mode' must be one of", "got \"median\""});
  write_file(path, R"({"pooling_mode_mean_tokens": "yes"})");
  expect_error([&] { read_pooling_config(path); }, ErrorCode::invalid_model,
               {"'pooling_mode_mean_tokens' must be true or false, got \"yes\""});
  write_file(path, R"({"pooling_mode_mean_tokens": false, "word_embedding_dimension": 384})");
  expect_error([&] { read_pooling_config(path); }, ErrorCode::invalid_model,
               {path.string(), "no pooling mode is switched on"});
  write_file(path, R"({"pooling_mode_cls_token": true, "word_embedding_dimension": -1})");
  expect_error([&] { read_pooling_config(path); }, ErrorCode::invalid_model,
               {"'word_embedding_dimension' must be a positive integer, got -1"});
}

TEST(SentenceTransformers, ReadsOldLayoutsAndModelCardConfig) {
  const TempDir dir;
  write_file(dir.path() / "modules.json",
             R"([{"path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
                 {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])");
  write_file(dir.path() / "0_Transformer" / "sentence_roberta_config.json",
             R"({"max_seq_length": 128, "do_lower_case": true})");
  write_file(dir.path() / "1_Pooling" / "config.json", R"({"pooling_mode_cls_token": true})");
  write_file(dir.path() / "config_sentence_transformers.json",
             R"({"prompts": {"query": "query: ", "passage": "passage: "},
                 "default_prompt_name": "query", "similarity_fn_name": "cosine"})");
  const auto config = read_sentence_transformer_config(dir.path());
  ASSERT_TRUE(config);
  EXPECT_EQ(config->transformer_dir, dir.path() / "0_Transformer");
  EXPECT_EQ(config->max_seq_length, 128);
  EXPECT_TRUE(config->do_lower_case);
  EXPECT_EQ(config->prompts.at("passage"), "passage: ");
  EXPECT_EQ(config->default_prompt_name, "query");
  EXPECT_EQ(config->similarity_fn_name, "cosine");

  write_file(dir.path() / "config_sentence_transformers.json", R"({"prompts": {"query": 1}})");
  expect_error([&] { read_sentence_transformer_config(dir.path()); }, ErrorCode::invalid_model,
               {"config_sentence_transformers.json", "'prompts.query' must be a string, got 1"});
  write_file(dir.path() / "config_sentence_transformers.json",
             R"({"prompts": {}, "default_prompt_name": "query"})");
  expect_error([&] { read_sentence_transformer_config(dir.path()); }, ErrorCode::invalid_model,
               {"'default_prompt_name' names no prompt"});
}

TEST(SentenceTransformers, MaxSeqLengthMayBeNullButNotText) {
  const TempDir dir;
  write_file(dir.path() / "modules.json", modules({kTransformer}));
  write_file(dir.path() / "sentence_bert_config.json", R"({"max_seq_length": null})");
  const auto config = read_sentence_transformer_config(dir.path());
  ASSERT_TRUE(config);
  EXPECT_FALSE(config->max_seq_length);
  EXPECT_FALSE(config->pooling);  // no Pooling module: token embeddings
  write_file(dir.path() / "sentence_bert_config.json", R"({"max_seq_length": "abc"})");
  expect_error([&] { read_sentence_transformer_config(dir.path()); }, ErrorCode::invalid_model,
               {"sentence_bert_config.json: 'max_seq_length' must be a positive integer, got "
                "\"abc\""});
}

TEST(SentenceTransformers, RefusesModulesItDoesNotRun) {
  const TempDir dir;
  const fs::path path = dir.path() / "modules.json";
  const auto read = [&] { read_sentence_transformer_config(dir.path()); };
  write_file(dir.path() / "1_Pooling" / "config.json", R"({"pooling_mode_mean_tokens": true})");

  write_file(path,
             modules({kTransformer, kPooling,
                      R"({"path": "2_Dense", "type": "sentence_transformers.models.Dense"})"}));
  expect_error(read, ErrorCode::unsupported,
               {path.string(), "module 2 ('2_Dense'", "Dense layer", "not support"});
  write_file(path, modules({kTransformer, R"({"path": "x", "type": "my_package.MyModule"})"}));
  expect_error(read, ErrorCode::unsupported, {"'my_package.MyModule'", "remote code"});
  write_file(path, modules({kPooling, kTransformer}));
  expect_error(read, ErrorCode::unsupported, {"first module to be a Transformer"});
  write_file(path, modules({kTransformer, kTransformer}));
  expect_error(read, ErrorCode::unsupported, {"second Transformer"});
  write_file(path, modules({kTransformer, kNormalize, kPooling}));
  expect_error(read, ErrorCode::unsupported, {"Pooling", "not supported here"});
  write_file(path, modules({kTransformer, kPooling, kPooling}));
  expect_error(read, ErrorCode::unsupported, {"not supported here"});
  write_file(path, modules({kTransformer,
                            R"({"path": "", "type": "sentence_transformers.models.LSTM"})"}));
  expect_error(read, ErrorCode::unsupported, {"LSTM", "not supported here"});
}

// modules.json as each release writes it (the class's module, then from 5.1 on also its name).
TEST(SentenceTransformers, ReadsTheModuleNamesOfEveryRelease) {
  const TempDir dir;
  write_file(dir.path() / "1_Pooling" / "config.json", R"({"pooling_mode_cls_token": true})");
  const std::vector<std::array<const char*, 3>> releases = {
      {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
       "sentence_transformers.models.Normalize"},
      {"sentence_transformers.base.modules.transformer.Transformer",
       "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
       "sentence_transformers.sentence_transformer.modules.normalize.Normalize"},
      {"sentence_transformers.base.modules.transformer.Transformer",
       "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
       "sentence_transformers.base.modules.normalize.Normalize"},
      {"sentence_transformers.sentence_transformer.modules.Transformer",
       "sentence_transformers.sentence_transformer.modules.Pooling",
       "sentence_transformers.base.modules.Normalize"},
  };
  for (const auto& [transformer, pooling, normalize] : releases) {
    write_file(dir.path() / "modules.json",
               std::string(R"([{"path": "", "type": ")") + transformer +
                   R"("}, {"path": "1_Pooling", "type": ")" + pooling +
                   R"("}, {"path": "2_Normalize", "type": ")" + normalize + R"("}])");
    const auto config = read_sentence_transformer_config(dir.path());
    ASSERT_TRUE(config) << transformer;
    ASSERT_TRUE(config->pooling) << pooling;
    EXPECT_EQ(config->pooling->modes, std::vector<PoolingMode>{PoolingMode::cls});
    EXPECT_TRUE(config->normalize) << normalize;
  }
  // A 6.x Dense is still a Dense layer, and a look-alike outside the package still custom code.
  write_file(
      dir.path() / "modules.json",
      modules(
          {kTransformer, kPooling,
           R"({"path": "2_Dense", "type": "sentence_transformers.base.modules.dense.Dense"})"}));
  expect_error([&] { read_sentence_transformer_config(dir.path()); }, ErrorCode::unsupported,
               {"Dense layer"});
  write_file(
      dir.path() / "modules.json",
      modules(
          {R"({"path": "", "type": "my_sentence_transformers.base.modules.transformer.Transformer"})"}));
  expect_error([&] { read_sentence_transformer_config(dir.path()); }, ErrorCode::unsupported,
               {"remote code"});
}

// A folder saved by SentenceTransformer.save of sentence-transformers 6
// (tools/fixtures/gen_st6_fixture.py): no max_seq_length in sentence_bert_config.json (the
// tokenizer's model_max_length holds it), "embedding_dimension" in the Pooling config.
TEST(SentenceTransformers, ReadsAFolderSavedBySentenceTransformers6) {
  const fs::path dir = test::data_dir() / "models" / "tiny-st6-bert-mean-normalize";
  const auto config = read_sentence_transformer_config(dir);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->transformer_dir, dir);
  EXPECT_FALSE(config->max_seq_length);
  ASSERT_TRUE(config->pooling);
  EXPECT_EQ(config->pooling->modes, std::vector<PoolingMode>{PoolingMode::mean});
  EXPECT_EQ(config->pooling->word_embedding_dimension, 32);
  EXPECT_TRUE(config->normalize);
  EXPECT_EQ(config->prompts.at("query"), "query: ");
  EXPECT_EQ(config->prompts.at("document"), "");
}

TEST(SentenceTransformers, RejectsMalformedModulesJson) {
  const TempDir dir;
  const fs::path path = dir.path() / "modules.json";
  const auto read = [&] { read_sentence_transformer_config(dir.path()); };
  write_file(path, "[{\"type\": ");
  expect_error(read, ErrorCode::invalid_model, {path.string() + ": invalid JSON"});
  write_file(path, R"({"type": "x"})");
  expect_error(read, ErrorCode::invalid_model, {"must be a JSON array of modules, got an object"});
  write_file(path, "[]");
  expect_error(read, ErrorCode::invalid_model, {"lists no modules"});
  write_file(path, R"([{"path": ""}])");
  expect_error(read, ErrorCode::invalid_model, {"'[0].type' is required"});
  write_file(path, R"([{"path": "", "type": 3}])");
  expect_error(read, ErrorCode::invalid_model, {"'[0].type' must be a string, got 3"});
  write_file(path, R"([7])");
  expect_error(read, ErrorCode::invalid_model, {"'[0]' must be a JSON object, got 7"});
  write_file(path,
             modules({kTransformer,
                      R"({"path": "../x", "type": "sentence_transformers.models.Pooling"})"}));
  expect_error(read, ErrorCode::invalid_model, {"module 1 ('../x'", "outside the model folder"});
  write_file(path, modules({kTransformer, kPooling}));
  expect_error(read, ErrorCode::not_found, {"1_Pooling/config.json", "file not found"});
}

// SparseEncoder folders as each release writes them: 5.0-5.3's MLMTransformer and SpladePooling
// under sparse_encoder.models, 5.4's modules, and 6.x's base Transformer of transformer_task
// "fill-mask"; SpladePooling's config in both key spellings, and max_active_dims.
TEST(SentenceTransformers, ReadsSparseEncoderFoldersOfEveryRelease) {
  const TempDir dir;
  write_file(dir.path() / "1_SpladePooling" / "config.json",
             R"({"pooling_strategy": "sum", "activation_function": "log1p_relu",
                 "word_embedding_dimension": 30522})");
  write_file(dir.path() / "config_sentence_transformers.json", R"({"max_active_dims": 64})");
  const std::vector<std::array<const char*, 3>> releases = {
      {"sentence_transformers.sparse_encoder.models.MLMTransformer",
       "sentence_transformers.sparse_encoder.models.SpladePooling", "{}"},
      {"sentence_transformers.sparse_encoder.modules.mlm_transformer.MLMTransformer",
       "sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling", "{}"},
      {"sentence_transformers.base.modules.transformer.Transformer",
       "sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling",
       R"({"transformer_task": "fill-mask"})"},
  };
  for (const auto& [transformer, pooling, bert_config] : releases) {
    SCOPED_TRACE(transformer);
    write_file(dir.path() / "modules.json",
               std::string(R"([{"path": "", "type": ")") + transformer +
                   R"("}, {"path": "1_SpladePooling", "type": ")" + pooling + R"("}])");
    write_file(dir.path() / "sentence_bert_config.json", bert_config);
    const auto config = read_sentence_transformer_config(dir.path());
    ASSERT_TRUE(config && config->splade);
    EXPECT_TRUE(config->masked_lm);
    EXPECT_FALSE(config->pooling);
    EXPECT_EQ(config->splade->strategy, SpladeStrategy::sum);
    EXPECT_EQ(config->splade->activation, SpladeActivation::log1p_relu);
    EXPECT_EQ(config->splade->embedding_dimension, 30522);
    EXPECT_EQ(config->max_active_dims, 64);
  }
}

TEST(SentenceTransformers, RefusesHostileSparseEncoderConfigs) {
  const TempDir dir;
  const fs::path pooling = dir.path() / "1_SpladePooling" / "config.json";
  const auto read = [&] { read_sentence_transformer_config(dir.path()); };
  constexpr const char* mlm =
      R"({"path": "", "type": "sentence_transformers.sparse_encoder.models.MLMTransformer"})";
  constexpr const char* splade =
      R"({"path": "1_SpladePooling", "type": "sentence_transformers.sparse_encoder.models.SpladePooling"})";
  write_file(dir.path() / "modules.json", modules({mlm, splade}));
  write_file(pooling, R"({"pooling_strategy": "mean"})");
  expect_error(read, ErrorCode::invalid_model,
               {pooling.string(), "'pooling_strategy'", "max or sum"});
  write_file(pooling, R"({"activation_function": "gelu"})");
  expect_error(read, ErrorCode::invalid_model, {"'activation_function'", "relu or log1p_relu"});
  write_file(pooling, R"({"embedding_dimension": 0})");
  expect_error(read, ErrorCode::invalid_model, {"'embedding_dimension'", "positive integer"});
  write_file(pooling, "{}");
  write_file(dir.path() / "config_sentence_transformers.json", R"({"max_active_dims": "all"})");
  expect_error(read, ErrorCode::invalid_model, {"'max_active_dims'", "positive integer"});
  write_file(dir.path() / "config_sentence_transformers.json", "{}");
  // SpladePooling after a plain Transformer has no logits to pool; a masked-LM Transformer
  // without it, and a second pooling, are refused.
  write_file(dir.path() / "modules.json", modules({kTransformer, splade}));
  expect_error(read, ErrorCode::invalid_model, {"SpladePooling needs a masked-LM Transformer"});
  write_file(dir.path() / "modules.json", modules({mlm}));
  expect_error(read, ErrorCode::unsupported, {"only with SpladePooling"});
  write_file(dir.path() / "1_Pooling" / "config.json", R"({"pooling_mode_mean_tokens": true})");
  write_file(dir.path() / "modules.json", modules({mlm, splade, kPooling}));
  expect_error(read, ErrorCode::unsupported, {"not supported here"});
}

}  // namespace
}  // namespace hades
