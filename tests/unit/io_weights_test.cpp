// WeightStore: single files, sharded indexes, pickle-only folders, dtype conversion on load, and
// the errors for each way a model folder can be broken.
#include "io/weights.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "core/dtype.hpp"
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

// A shard holding F32 tensors of shape [2] with values {first, first + 1}.
void write_shard(const fs::path& path, std::initializer_list<const char*> names, float first = 0) {
  std::vector<std::vector<float>> storage;
  std::vector<TensorEntry> tensors;
  storage.reserve(names.size());
  for (const char* name : names) {
    storage.push_back({first, first + 1});
    tensors.push_back({name, DType::f32, {2}, std::as_bytes(std::span(storage.back()))});
  }
  write_file(path, encode_safetensors(tensors));
}

TEST(WeightStore, OpensTheRealMiniLmFolder) {
  fs::path dir;
  try {
    dir = test::minilm_dir();
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  const WeightStore store = WeightStore::open_folder(dir);
  EXPECT_EQ(store.tensor_count(), 104u);
  EXPECT_EQ(store.total_bytes(), 90856960u);
  EXPECT_TRUE(store.contains("encoder.layer.0.attention.self.query.weight"));
  const std::vector<float> norm = store.load_f32("embeddings.LayerNorm.weight", {384});
  ASSERT_EQ(norm.size(), 384u);
  EXPECT_FLOAT_EQ(norm[0], 0.5989283323287964f);
  EXPECT_EQ(store.load_f32("embeddings.word_embeddings.weight", {30522, 384}).size(),
            30522u * 384u);
  expect_error(
      [&] {
        store.load_f32("embeddings.position_ids", {1, 512});
      },
      ErrorCode::invalid_model,
      {"model.safetensors", "'embeddings.position_ids'", "has dtype I64", "expected a float type"});
  expect_error([&] { store.load_f32("embeddings.LayerNorm.weight", {768}); },
               ErrorCode::invalid_model,
               {"model.safetensors: tensor 'embeddings.LayerNorm.weight' has shape [384], "
                "expected [768]"});
  expect_error([&] { store.get("bert.embeddings.LayerNorm.weight"); }, ErrorCode::invalid_model,
               {"'bert.embeddings.LayerNorm.weight' not found in", "model.safetensors"});
}

TEST(WeightStore, ConvertsF16AndBf16ExactlyAndReadsUnalignedF32) {
  const TempDir dir;
  // Values exact in both F16 and BF16.
  const std::vector<float> expected = {
      1.0f, -2.0f, 0.5f, 61440.0f, std::ldexp(1.0f, -24), -std::numeric_limits<float>::infinity()};
  std::vector<std::uint16_t> halves;
  std::vector<std::uint16_t> brains;
  for (const float value : expected) {
    halves.push_back(f32_to_f16(value));
    brains.push_back(f32_to_bf16(value));
  }
  // Laid out by hand so that a 1-byte tensor comes first and every later tensor is unaligned.
  const auto entry = [](const char* name, const char* dtype, const char* shape, std::size_t begin,
                        std::size_t end) {
    return std::string("\"") + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
           ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
  };
  std::string header =
      "{" + entry("odd", "U8", "[1]", 0, 1) + "," + entry("full", "F32", "[3,2]", 1, 25) + "," +
      entry("half", "F16", "[2,3]", 25, 37) + "," + entry("brain", "BF16", "[6]", 37, 49) + "}";
  while ((8 + header.size() + 1) % 4 == 0) header += ' ';
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  file += header + '\x07';
  file.append(reinterpret_cast<const char*>(expected.data()), expected.size() * 4);
  file.append(reinterpret_cast<const char*>(halves.data()), halves.size() * 2);
  file.append(reinterpret_cast<const char*>(brains.data()), brains.size() * 2);
  write_file(dir.path() / "model.safetensors", file);

  const WeightStore store = WeightStore::open_folder(dir.path());
  EXPECT_NE(reinterpret_cast<std::uintptr_t>(store.get("full").bytes.data()) % 4, 0u);
  for (const char* name : {"half", "brain", "full"}) {
    const std::vector<std::int64_t> shape = store.get(name).shape;
    const std::vector<float> loaded = store.load_f32(name, shape);
    ASSERT_EQ(loaded.size(), expected.size()) << name;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(std::bit_cast<std::uint32_t>(loaded[i]), std::bit_cast<std::uint32_t>(expected[i]))
          << name << "[" << i << "]";
    }
  }
  std::vector<float> out(5);
  EXPECT_THROW(convert_to_f32(store.get("full"), out), Error);
  expect_error([&] { store.load_f32("odd", {1}); }, ErrorCode::invalid_model,
               {"tensor 'odd' has dtype U8, expected a float type"});
}

std::string index_json(std::string_view weight_map) {
  return R"({"metadata":{"total_size":32},"weight_map":)" + std::string(weight_map) + "}";
}

TEST(WeightStore, OpensShardedModels) {
  const TempDir dir;
  write_shard(dir.path() / "model-00001-of-00002.safetensors", {"a.weight", "b.weight"}, 1);
  fs::create_directory(dir.path() / "shards");
  write_shard(dir.path() / "shards" / "model-00002-of-00002.safetensors", {"c.weight"}, 10);
  write_file(dir.path() / "model.safetensors.index.json",
             index_json(R"({"a.weight":"model-00001-of-00002.safetensors",)"
                        R"("b.weight":"./model-00001-of-00002.safetensors",)"
                        R"("c.weight":"shards/model-00002-of-00002.safetensors"})"));
  const WeightStore store = WeightStore::open_folder(dir.path());
  EXPECT_EQ(store.tensor_count(), 3u);
  EXPECT_EQ(store.files().size(), 2u);  // "./x" and "x" name one shard
  EXPECT_EQ(store.names(), (std::vector<std::string>{"a.weight", "b.weight", "c.weight"}));
  EXPECT_EQ(store.load_f32("c.weight", {2}), (std::vector<float>{10, 11}));
  EXPECT_EQ(store.load_f32("a.weight", {2}), (std::vector<float>{1, 2}));
}

TEST(WeightStore, PrefersModelSafetensorsOverIndexAndPickle) {
  const TempDir dir;
  write_shard(dir.path() / "model.safetensors", {"only"});
  write_file(dir.path() / "model.safetensors.index.json", "broken");
  write_file(dir.path() / "pytorch_model.bin", "pickle");
  EXPECT_TRUE(WeightStore::open_folder(dir.path()).contains("only"));
}

TEST(WeightStore, RejectsBrokenShardIndexes) {
  const TempDir dir;
  const fs::path index = dir.path() / "model.safetensors.index.json";
  write_shard(dir.path() / "one.safetensors", {"a", "b"});
  write_shard(dir.path() / "two.safetensors", {"b", "c"});
  const auto open = [&] { WeightStore::open_folder(dir.path()); };

  write_file(index, index_json(R"({"a":"one.safetensors","x":"missing.safetensors"})"));
  expect_error(open, ErrorCode::not_found,
               {"model.safetensors.index.json", "shard 'missing.safetensors'", "is missing"});
  for (const char* outside :
       {"../one.safetensors", "/etc/one.safetensors", "sub/../../one.safetensors"}) {
    write_file(index, index_json(std::string(R"({"a":")") + outside + "\"}"));
    expect_error(open, ErrorCode::invalid_model,
                 {"model.safetensors.index.json", outside, "outside the model folder"});
  }
  write_file(index, index_json(R"({"a":"one.safetensors\u0000.safetensors"})"));
  expect_error(open, ErrorCode::invalid_model, {"outside the model folder"});
  write_file(index, index_json(R"({"a":"pytorch_model-00001-of-00002.bin"})"));
  expect_error(open, ErrorCode::invalid_model, {"is not a .safetensors file"});
  write_file(index, index_json(R"({"a":"one.safetensors","c":"one.safetensors"})"));
  expect_error(
      open, ErrorCode::invalid_model,
      {"tensor 'c' is listed in shard 'one.safetensors' but that file does not contain it"});
  write_file(index, index_json(R"({"a":"one.safetensors","c":"two.safetensors"})"));
  expect_error(open, ErrorCode::invalid_model,
               {"tensor 'b' is in two shards", "one.safetensors", "two.safetensors"});
  write_file(index, index_json(R"({"a":"one.safetensors","a":"two.safetensors"})"));
  expect_error(open, ErrorCode::invalid_model, {"index.json", "duplicate key 'a'"});
  write_file(index, index_json(R"({"a":1})"));
  expect_error(open, ErrorCode::invalid_model, {"'weight_map.a' must name a shard file, got 1"});
  write_file(index, index_json("[]"));
  expect_error(open, ErrorCode::invalid_model, {"index.json", "'weight_map' must be an object"});
  write_file(index, index_json("{}"));
  expect_error(open, ErrorCode::invalid_model, {"'weight_map' lists no tensors"});
  write_file(index, R"({"metadata":{}})");
  expect_error(open, ErrorCode::invalid_model, {"'weight_map' is required"});
  write_file(index, "{\"weight_map\": {\n\"a\": one.safetensors}}");
  expect_error(open, ErrorCode::invalid_model, {"index.json: invalid JSON", "line 2"});
  write_file(dir.path() / "two.safetensors", std::string_view("\x02\0\0\0\0\0\0\0{]", 10));
  write_file(index, index_json(R"({"a":"one.safetensors","b":"two.safetensors"})"));
  expect_error(open, ErrorCode::invalid_model, {"two.safetensors: header: invalid JSON"});
}

TEST(WeightStore, RefusesPickleOnlyFolders) {
  const TempDir dir;
  write_file(dir.path() / "pytorch_model.bin", "\x80\x02pickle");
  write_file(dir.path() / "training_args.bin", "x");
  write_file(dir.path() / "extra.ckpt", "x");
  write_file(dir.path() / "config.json", "{}");
  expect_error(
      [&] { WeightStore::open_folder(dir.path()); }, ErrorCode::unsupported,
      {dir.path().string(), "only pickle weights",
       "extra.ckpt, pytorch_model.bin, training_args.bin", "refuses pickle", "only safetensors"});
}

TEST(WeightStore, ReportsMissingWeightsAndFolders) {
  const TempDir dir;
  write_file(dir.path() / "config.json", "{}");
  expect_error([&] { WeightStore::open_folder(dir.path()); }, ErrorCode::not_found,
               {dir.path().string(), "no model weights", "model.safetensors"});
  write_shard(dir.path() / "adapter_model.safetensors", {"x"});
  write_file(dir.path() / "pytorch_model.bin", "pickle");
  expect_error([&] { WeightStore::open_folder(dir.path()); }, ErrorCode::not_found,
               {"no model weights", "it has adapter_model.safetensors"});
  expect_error([&] { WeightStore::open_folder(dir.path() / "nope"); }, ErrorCode::not_found,
               {"nope", "model folder does not exist"});
  expect_error([&] { WeightStore::open_folder(dir.path() / "config.json"); }, ErrorCode::not_found,
               {"config.json", "model folder does not exist"});
}

TEST(WeightStore, NamesTheFileOfABrokenSingleFile) {
  const TempDir dir;
  write_file(dir.path() / "model.safetensors", std::string_view("\xff\xff\0\0\0\0\0\0{}", 10));
  expect_error([&] { WeightStore::open_folder(dir.path()); }, ErrorCode::invalid_model,
               {(dir.path() / "model.safetensors").string() + ": header length 65535 runs past"});
}

TEST(WeightStore, FromFilesRejectsATensorInTwoFiles) {
  const std::vector<float> values = {1, 2};
  const std::vector<TensorEntry> tensors = {
      {"w", DType::f32, {2}, std::as_bytes(std::span(values))}};
  const std::vector<std::byte> bytes = encode_safetensors(tensors);
  std::vector<SafetensorsFile> files;
  files.push_back(SafetensorsFile::parse(bytes, "first"));
  files.push_back(SafetensorsFile::parse(bytes, "second"));
  expect_error([&] { WeightStore::from_files(std::move(files)); }, ErrorCode::invalid_model,
               {"tensor 'w' is in two shards: first and second"});
}

}  // namespace
}  // namespace hades
