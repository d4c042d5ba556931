// The hub layer's pure parts: which repo files are fetched, ETags, SHA-256, ids, cache lookups.
#include <gtest/gtest.h>

#include <fstream>

#include "hub/downloader.hpp"
#include "hub/http_client.hpp"
#include "hub/repo_files.hpp"
#include "support/expect_error.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;

TEST(HubRepoFiles, FetchesWhatALoadNeedsAndNeverPickleOrCode) {
  for (const char* wanted :
       {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "vocab.txt", "model.safetensors", "model-00001-of-00002.safetensors",
        "model.safetensors.index.json", "modules.json", "config_sentence_transformers.json",
        "sentence_bert_config.json", "1_Pooling/config.json", "2_Dense/config.json",
        "2_Dense/model.safetensors"}) {
    EXPECT_TRUE(hub::is_wanted_file(wanted)) << wanted;
  }
  for (const char* unwanted :
       {"pytorch_model.bin", "model.pt", "tf_model.h5", "flax_model.msgpack", "model.ckpt",
        "modeling_custom.py", "configuration_x.py", "onnx/model.onnx", "onnx/config.json",
        "README.md", ".gitattributes", "1_Pooling/../../x", "/config.json",
        "openvino/openvino_model.xml", "2_Dense/pytorch_model.bin", "a/b/config.json",
        "_Pooling/config.json", "Pooling_1/config.json"}) {
    EXPECT_FALSE(hub::is_wanted_file(unwanted)) << unwanted;
  }
}

TEST(HubRepoFiles, SafetensorsWeightsAreTopLevelOnly) {
  EXPECT_TRUE(hub::has_safetensors_weights({"config.json", "model.safetensors"}));
  EXPECT_FALSE(hub::has_safetensors_weights({"config.json", "pytorch_model.bin"}));
  EXPECT_FALSE(hub::has_safetensors_weights({"2_Dense/model.safetensors"}));
  EXPECT_EQ(hub::weight_files({"config.json", "pytorch_model.bin", "tf_model.h5"}),
            (std::vector<std::string>{"pytorch_model.bin", "tf_model.h5"}));
}

TEST(HubRepoFiles, EtagsLoseQuotesAndTheWeakPrefix) {
  EXPECT_EQ(hub::normalize_etag("\"abc\""), "abc");
  EXPECT_EQ(hub::normalize_etag("W/\"abc\""), "abc");
  EXPECT_EQ(hub::normalize_etag("abc"), "abc");
  EXPECT_TRUE(hub::is_sha256_hex(std::string(64, 'a')));
  EXPECT_FALSE(hub::is_sha256_hex(std::string(40, 'a')));
  EXPECT_FALSE(hub::is_sha256_hex(std::string(64, 'A')));
}

TEST(HubRepoFiles, Sha256OfAFile) {
  test::TempDir dir;
  std::ofstream(dir.path() / "abc") << "abc";
  EXPECT_EQ(hub::sha256_file(dir.path() / "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::ofstream(dir.path() / "empty").flush();
  EXPECT_EQ(hub::sha256_file(dir.path() / "empty"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  test::expect_error([&] { hub::sha256_file(dir.path() / "missing"); }, ErrorCode::io_error,
                     {"missing"});
}

TEST(HubRepoFiles, UrlAuthority) {
  EXPECT_EQ(hub::url_authority("http://127.0.0.1:8080/a/b"), "127.0.0.1:8080");
  EXPECT_EQ(hub::url_authority("https://HuggingFace.co"), "huggingface.co");
  EXPECT_EQ(hub::url_authority("/relative"), "");
}

TEST(HubCache, IdsAndRevisionsCannotLeaveTheCache) {
  EXPECT_NO_THROW(check_model_id("sentence-transformers/all-MiniLM-L6-v2"));
  EXPECT_NO_THROW(check_model_id("bert-base-uncased"));
  for (const char* bad : {"../x", "a/../b", "a/b/c", "/abs", "", "a b/c", ".hidden/x"}) {
    test::expect_error([&] { check_model_id(bad); }, ErrorCode::invalid_argument,
                       {"not a valid model id", "ORG/NAME"});
  }
  test::expect_error([&] { check_revision("../main"); }, ErrorCode::invalid_argument,
                     {"not a valid revision"});
  EXPECT_EQ(repo_folder_name("org/name"), "models--org--name");
}

// A model that is neither a folder nor an id is refused saying which: a missing path as a missing
// folder, anything else with the forms a model takes. Offline, so that an id goes nowhere.
TEST(HubCache, AModelThatIsNeitherAFolderNorAnIdSaysWhatIsWrong) {
  test::TempDir dir;
  HubSettings offline;
  offline.offline = true;
  offline.cache = dir.path() / "cache";
  const std::string missing = (dir.path() / "no-such-model").string();
  test::expect_error([&] { resolve_model(missing, {}, offline); }, ErrorCode::model_not_found,
                     {"no such folder: " + missing});
  test::expect_error([&] { resolve_model("./not/here", {}, offline); }, ErrorCode::model_not_found,
                     {"no such folder: ./not/here"});
  std::ofstream(dir.path() / "file") << "x";
  test::expect_error([&] { resolve_model((dir.path() / "file").string(), {}, offline); },
                     ErrorCode::invalid_argument, {"not a folder: "});
  for (const char* neither : {"a/b/c", "a b/c", "org/name!@main"}) {
    test::expect_error(
        [&] { resolve_model(neither, {}, offline); }, ErrorCode::invalid_argument,
        {"is neither a model folder nor a Hugging Face model id", "@REVISION", "ORG/NAME"});
  }
  EXPECT_EQ(resolve_model(dir.path().string(), {}, offline), dir.path());
  test::expect_error([&] { resolve_model("org/name", {}, offline); }, ErrorCode::model_not_found,
                     {"org/name"});
}

TEST(HubCache, ASnapshotIsCompleteWithConfigAndEveryShard) {
  test::TempDir dir;
  const fs::path snapshot = dir.path() / "models--o--n" / "snapshots" / std::string(40, 'a');
  fs::create_directories(snapshot);
  std::ofstream(dir.path() / "models--o--n" / "refs-main-missing").flush();
  EXPECT_FALSE(find_cached_model("o/n", "main", dir.path()).has_value());
  EXPECT_EQ(find_cached_model("o/n", std::string(40, 'a'), dir.path()), snapshot);
  fs::create_directories(dir.path() / "models--o--n" / "refs");
  std::ofstream(dir.path() / "models--o--n" / "refs" / "main") << std::string(40, 'a');
  EXPECT_EQ(find_cached_model("o/n", "main", dir.path()), snapshot);

  std::ofstream(snapshot / "config.json") << "{}";
  EXPECT_FALSE(is_complete_snapshot(snapshot));  // huggingface_hub fetched only the config
  std::ofstream(snapshot / "model.safetensors.index.json")
      << R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})";
  std::ofstream(snapshot / "s1.safetensors") << "x";
  EXPECT_FALSE(is_complete_snapshot(snapshot));
  std::ofstream(snapshot / "s2.safetensors") << "x";
  EXPECT_TRUE(is_complete_snapshot(snapshot));
}

TEST(HubSettings, ReadFromTheEnvironment) {
  test::TempDir dir;
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
  ::setenv("HF_TOKEN", "hf_x", 1);
  ::setenv("HF_HUB_OFFLINE", "true", 1);
  ::setenv("HF_HUB_CACHE", dir.path().c_str(), 1);
  HubSettings hub = hub_settings_from_environment();
  EXPECT_EQ(hub.endpoint, "http://127.0.0.1:9");
  EXPECT_EQ(hub.token, "hf_x");
  EXPECT_TRUE(hub.offline);
  EXPECT_EQ(hub.cache, dir.path());
  ::setenv("HF_HUB_OFFLINE", "0", 1);
  ::unsetenv("HF_TOKEN");
  ::setenv("HF_HOME", dir.path().c_str(), 1);
  std::ofstream(dir.path() / "token") << "hf_from_file\n";
  hub = hub_settings_from_environment();
  EXPECT_FALSE(hub.offline);
  EXPECT_EQ(hub.token, "hf_from_file");
  ::setenv("HF_HUB_DOWNLOAD_TIMEOUT", "soon", 1);
  test::expect_error([] { hub_settings_from_environment(); }, ErrorCode::invalid_argument,
                     {"HF_HUB_DOWNLOAD_TIMEOUT"});
  for (const char* name :
       {"HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "HF_HOME", "HF_HUB_DOWNLOAD_TIMEOUT"}) {
    ::unsetenv(name);
  }
}

}  // namespace
}  // namespace hades
