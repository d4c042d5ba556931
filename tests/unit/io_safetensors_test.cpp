// safetensors parsing: the real MiniLM file, round trips through encode_safetensors, every kind of
// malformed file the format forbids, and a deterministic mutation fuzz loop.
#include "io/safetensors.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hades/error.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

constexpr const char* kSource = "hostile.safetensors";

// A safetensors file from header text and `data_bytes` zero bytes of data; the length prefix
// says `declared_length` when given, else the header's true length.
std::vector<std::byte> raw_file(std::string_view header, std::size_t data_bytes = 0,
                                std::optional<std::uint64_t> declared_length = std::nullopt) {
  const std::uint64_t length = declared_length.value_or(header.size());
  std::vector<std::byte> bytes(8 + header.size() + data_bytes);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::byte>((length >> (8 * i)) & 0xff);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

std::span<const std::byte> as_bytes(const std::vector<float>& values) {
  return std::as_bytes(std::span(values));
}

// Expects `parse(bytes)` to throw invalid_model whose message names the file and contains every
// one of `fragments`.
void expect_invalid(const std::vector<std::byte>& bytes,
                    std::initializer_list<std::string_view> fragments) {
  try {
    SafetensorsFile::parse(bytes, kSource);
    ADD_FAILURE() << "parsed without error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ErrorCode::invalid_model) << message;
    EXPECT_EQ(message.rfind(kSource, 0), 0u) << "message does not start with the file: " << message;
    for (const std::string_view fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "'" << fragment << "' not in: " << message;
    }
    EXPECT_LT(message.size(), 1000u) << message;
  }
}

std::vector<std::byte> sample_file() {
  static const std::vector<float> weights = {1.0f, -2.5f, 3.25f, 0.0f, 5.0f, 6.0f};
  static const std::vector<std::byte> mask = {std::byte{1}, std::byte{0}, std::byte{1}};
  static const std::vector<std::byte> halves = {std::byte{0x00}, std::byte{0x3c}, std::byte{0x00},
                                                std::byte{0xc0}};
  const std::vector<TensorEntry> tensors = {
      {"layer.weight", DType::f32, {2, 3}, as_bytes(weights)},
      {"layer.mask", DType::boolean, {3}, mask},
      {"layer.half", DType::f16, {2}, halves},
      {"layer.scalar", DType::f32, {}, as_bytes(weights).first(4)},
      {"layer.empty", DType::f32, {0, 7}, {}},
  };
  return encode_safetensors(tensors, {{"format", "pt"}});
}

TEST(Safetensors, ReadsTheRealMiniLmFile) {
  fs::path path;
  try {
    path = test::minilm_dir() / "model.safetensors";
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.tensors().size(), 104u);
  std::size_t f32_count = 0;
  for (const TensorEntry& tensor : file.tensors()) f32_count += tensor.dtype == DType::f32;
  EXPECT_EQ(f32_count, 103u);  // all but embeddings.position_ids (I64)
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.header_bytes(), 11408u);
  EXPECT_EQ(file.data_bytes(), 90856960u);

  const TensorEntry* words = file.find("embeddings.word_embeddings.weight");
  ASSERT_NE(words, nullptr);
  EXPECT_EQ(words->shape, (std::vector<std::int64_t>{30522, 384}));
  EXPECT_EQ(words->bytes.size(), 30522u * 384u * 4u);
  const TensorEntry* ids = file.find("embeddings.position_ids");
  ASSERT_NE(ids, nullptr);
  EXPECT_EQ(ids->dtype, DType::i64);
  std::int64_t third = 0;
  std::memcpy(&third, ids->bytes.data() + 16, 8);
  EXPECT_EQ(third, 2);
  const TensorEntry* norm = file.find("embeddings.LayerNorm.weight");
  ASSERT_NE(norm, nullptr);
  float first = 0;
  std::memcpy(&first, norm->bytes.data(), 4);
  EXPECT_FLOAT_EQ(first, 0.5989283323287964f);
  EXPECT_EQ(file.find("no.such.tensor"), nullptr);
}

TEST(Safetensors, EncodeThenParseRoundTrips) {
  const std::vector<std::byte> bytes = sample_file();
  const SafetensorsFile file = SafetensorsFile::parse(bytes, "sample");
  ASSERT_EQ(file.tensors().size(), 5u);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.header_bytes() % 8, 0u);  // padded, so that the data stays aligned
  const TensorEntry* weight = file.find("layer.weight");
  ASSERT_NE(weight, nullptr);
  EXPECT_EQ(weight->element_count(), 6);
  float values[6];
  std::memcpy(values, weight->bytes.data(), sizeof(values));
  EXPECT_EQ(values[2], 3.25f);
  EXPECT_EQ(file.find("layer.scalar")->element_count(), 1);
  EXPECT_TRUE(file.find("layer.scalar")->shape.empty());
  EXPECT_EQ(file.find("layer.empty")->bytes.size(), 0u);
  EXPECT_EQ(file.find("layer.mask")->dtype, DType::boolean);
  // Larger elements first: the F32 data leads, then F16, then the one-byte BOOL.
  EXPECT_EQ(file.tensors().back().name, "layer.mask");
}

TEST(Safetensors, AcceptsMinimalAndUnusualValidFiles) {
  EXPECT_TRUE(SafetensorsFile::parse(raw_file("{}"), kSource).tensors().empty());
  EXPECT_TRUE(
      SafetensorsFile::parse(raw_file("  {\"__metadata__\":null}  "), kSource).metadata().empty());
  // Header length not a multiple of 8: the data is unaligned, which the format allows.
  const auto odd = raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4);
  EXPECT_EQ(SafetensorsFile::parse(odd, kSource).find("a")->bytes.size(), 4u);
  // Packed F4: two elements per byte; zero-sized tensors may share an offset.
  const auto packed = raw_file(R"({"p":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]},)"
                               R"("z1":{"dtype":"F32","shape":[0],"data_offsets":[3,3]},)"
                               R"("z2":{"dtype":"I64","shape":[4,0],"data_offsets":[3,3]}})",
                               3);
  EXPECT_EQ(SafetensorsFile::parse(packed, kSource).tensors().size(), 3u);
  // Every dtype of the current format is known.
  for (const char* name : {"F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ", "C64", "U16", "F64"}) {
    const std::string header =
        std::string(R"({"t":{"dtype":")") + name + R"(","shape":[0],"data_offsets":[0,0]}})";
    EXPECT_NO_THROW(SafetensorsFile::parse(raw_file(header), kSource)) << name;
  }
}

TEST(Safetensors, RejectsBadLengthPrefix) {
  expect_invalid(std::vector<std::byte>(5), {"5 bytes", "too short"});
  expect_invalid({}, {"0 bytes", "too short"});
  expect_invalid(raw_file("{}", 40, 1000), {"header length 1000", "runs past the end of the file"});
  expect_invalid(raw_file("{}", 0, 100'000'001), {"header length 100000001", "limit"});
  expect_invalid(raw_file("{}", 0, ~std::uint64_t{0}), {"18446744073709551615", "limit"});
  // A header length that is right but for one byte.
  expect_invalid(raw_file("{}  ", 0, 5), {"runs past the end"});
}

TEST(Safetensors, RejectsHeadersThatAreNotAJsonObject) {
  expect_invalid(raw_file("{not json"), {"header: invalid JSON", "line 1"});
  expect_invalid(raw_file("[1, 2]"), {"must be a JSON object", "an array"});
  expect_invalid(raw_file("\"text\""), {"must be a JSON object"});
  expect_invalid(raw_file(""), {"invalid JSON"});
  expect_invalid(raw_file(std::string_view("{}\0\0\0\0", 6)), {"NUL character at byte 2"});
  expect_invalid(raw_file(std::string_view("{}\0{\"hidden\":1}", 15)), {"NUL character"});
  expect_invalid(raw_file("{\"a\xff\":1}"), {"not valid UTF-8", "byte 3"});
  expect_invalid(raw_file("{\"\xc0\xaf\":1}"), {"not valid UTF-8"});      // overlong '/'
  expect_invalid(raw_file("{\"\xed\xa0\x80\":1}"), {"not valid UTF-8"});  // a surrogate
  expect_invalid(raw_file(std::string(300, '[') + std::string(300, ']')), {"nested deeper"});
  expect_invalid(raw_file(R"({"__metadata__":{"a":)" + std::string(100000, '[')),
                 {"nested deeper"});
}

TEST(Safetensors, RejectsDuplicateKeys) {
  expect_invalid(raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          8),
                 {"duplicate key 'w'"});
  expect_invalid(
      raw_file(R"({"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})", 4),
      {"duplicate key 'dtype'"});
  expect_invalid(raw_file(R"({"__metadata__":{"k":"a","k":"b"}})"), {"duplicate key 'k'"});
}

TEST(Safetensors, RejectsMalformedTensorEntries) {
  const auto entry = [](std::string_view body, std::size_t data = 4) {
    return raw_file(std::string(R"({"t":)") + std::string(body) + "}", data);
  };
  expect_invalid(entry(R"({"dtype":"F17","shape":[1],"data_offsets":[0,4]})"),
                 {"tensor 't'", "unknown dtype \"F17\""});
  expect_invalid(entry(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})"), {"unknown dtype"});
  expect_invalid(entry(R"({"dtype":7,"shape":[1],"data_offsets":[0,4]})"), {"'dtype' must be"});
  expect_invalid(entry(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})"),
                 {"tensor 't'", "shape dimension 0 must be a non-negative integer, got -1"});
  expect_invalid(entry(R"({"dtype":"F32","shape":[1.0],"data_offsets":[0,4]})"),
                 {"shape dimension 0"});
  expect_invalid(entry(R"({"dtype":"F32","shape":[1,"2"],"data_offsets":[0,4]})"),
                 {"shape dimension 1"});
  expect_invalid(entry(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]})"),
                 {"shape dimension 0"});
  expect_invalid(entry(R"({"dtype":"F32","shape":1,"data_offsets":[0,4]})"), {"'shape' must be"});
  expect_invalid(entry(R"({"dtype":"F32","shape":[1]})"), {"missing 'data_offsets'"});
  expect_invalid(entry(R"({"shape":[1],"data_offsets":[0,4]})"), {"missing 'dtype'"});
  expect_invalid(entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1})"),
                 {"unexpected field 'x'"});
  expect_invalid(entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})"),
                 {"'data_offsets' must be an array [begin, end]"});
  expect_invalid(entry(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})"),
                 {"data offsets must be non-negative integers"});
  expect_invalid(entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4.0]})"), {"data offsets"});
  expect_invalid(entry(R"([1,2])"), {"tensor 't'", "must be an object"});
  expect_invalid(raw_file(R"({"__metadata__":{"format":1}})"),
                 {"'__metadata__' entry 'format' must be a string, got 1"});
  expect_invalid(raw_file(R"({"__metadata__":[]})"), {"'__metadata__' must be an object"});
}

TEST(Safetensors, RejectsOffsetsThatDoNotTileTheData) {
  const char* reversed = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})";
  expect_invalid(raw_file(reversed, 8), {"tensor 't'", "data offsets [8, 4) are reversed"});
  const char* gap = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  expect_invalid(raw_file(gap, 12), {"bytes [4, 8)", "belong to no tensor", "'b'"});
  const char* late_start = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expect_invalid(raw_file(late_start, 8), {"bytes [0, 4)", "belong to no tensor"});
  const char* overlap = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_invalid(raw_file(overlap, 12), {"tensor 'b'", "overlap tensor 'a' at [0, 8)"});
  const char* same = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})";
  expect_invalid(raw_file(same, 4), {"overlap"});
  const char* past_end = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expect_invalid(raw_file(past_end, 4),
                 {"tensor 't'", "[0, 8) run past the end of the data section (4 bytes)"});
  const char* trailing = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  expect_invalid(raw_file(trailing, 9), {"data section is 9 bytes", "5 trailing bytes"});
  expect_invalid(raw_file("{}", 1), {"1 trailing bytes"});
  const char* huge = R"({"t":{"dtype":"U8","shape":[1152921504606846976],)"
                     R"("data_offsets":[0,1152921504606846976]}})";
  expect_invalid(raw_file(huge, 4), {"run past the end"});
}

TEST(Safetensors, RejectsSizesThatDoNotMatchShape) {
  const char* mismatch = R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})";
  expect_invalid(raw_file(mismatch, 8),
                 {"tensor 't'", "shape [3] of F32 needs 12 bytes but data offsets [0, 8) hold 8"});
  const char* elements = R"({"t":{"dtype":"U8","shape":[4294967296,4294967296,2],)"
                         R"("data_offsets":[0,0]}})";
  expect_invalid(raw_file(elements), {"more elements than fit in 64 bits"});
  const char* bits = R"({"t":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})";
  expect_invalid(raw_file(bits), {"more bits than fit in 64 bits"});
  const char* wraps = R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],)"
                      R"("data_offsets":[0,0]}})";  // 2^64 elements: wraps to 0 if unchecked
  expect_invalid(raw_file(wraps), {"more elements than fit in 64 bits"});
  const char* packed = R"({"t":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}})";
  expect_invalid(raw_file(packed, 1), {"3 elements of F4 do not fill a whole number of bytes"});
}

TEST(Safetensors, CutsHostileNamesInMessages) {
  const std::string name(100000, 'n');
  const std::string header =
      "{\"" + name + R"(":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}})";
  expect_invalid(raw_file(header, 4), {"nnn...' (100000 bytes)", "needs 12 bytes"});
}

TEST(Safetensors, OpenNamesTheFileInErrors) {
  const TempDir dir;
  const fs::path path = dir.path() / "broken.safetensors";
  write_file(path, raw_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4));
  try {
    SafetensorsFile::open(path);
    ADD_FAILURE() << "opened a broken file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_model);
    EXPECT_EQ(std::string(e.what()),
              path.string() + ": tensor 't': data offsets [4, 0) are reversed");
  }
  write_file(dir.path() / "empty.safetensors", std::string_view());
  EXPECT_THROW(SafetensorsFile::open(dir.path() / "empty.safetensors"), Error);
  try {
    SafetensorsFile::open(dir.path() / "missing.safetensors");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
    EXPECT_NE(std::string(e.what()).find("missing.safetensors"), std::string::npos);
  }
  fs::create_directory(dir.path() / "dir.safetensors");
  try {
    SafetensorsFile::open(dir.path() / "dir.safetensors");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_model);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos);
  }
  const std::vector<std::byte> good = sample_file();
  write_file(dir.path() / "good.safetensors", good);
  SafetensorsFile moved = SafetensorsFile::open(dir.path() / "good.safetensors");
  const SafetensorsFile file = std::move(moved);  // the mapping moves with it
  EXPECT_EQ(file.find("layer.mask")->bytes[0], std::byte{1});
}

TEST(Safetensors, EncodeRejectsInconsistentTensors) {
  const std::vector<float> values = {1, 2, 3};
  const std::vector<TensorEntry> wrong_size = {{"t", DType::f32, {2}, as_bytes(values)}};
  EXPECT_THROW(encode_safetensors(wrong_size), Error);
  const std::vector<TensorEntry> twice = {{"t", DType::f32, {3}, as_bytes(values)},
                                          {"t", DType::f32, {3}, as_bytes(values)}};
  EXPECT_THROW(encode_safetensors(twice), Error);
  const std::vector<TensorEntry> negative = {{"t", DType::f32, {-3}, as_bytes(values)}};
  EXPECT_THROW(encode_safetensors(negative), Error);
}

// Mutations of a valid file must give a valid file or an invalid_model error: never a crash, an
// out-of-bounds read (AddressSanitizer) or another exception. Half the mutants get their length
// prefix repaired so that the mutation reaches the JSON and the offsets, not just the prefix.
TEST(Safetensors, SurvivesRandomMutations) {
  const std::vector<std::byte> original = sample_file();
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, original.data(), 8);
  std::mt19937_64 random(20240611);
  const auto pick = [&random](std::size_t bound) {
    return std::uniform_int_distribution<std::size_t>(0, bound - 1)(random);
  };
  const std::string interesting = "0123456789{}[]\":,-. e\xff\x80";
  int accepted = 0;
  for (int iteration = 0; iteration < 12000; ++iteration) {
    std::vector<std::byte> bytes = original;
    for (std::size_t edits = 1 + pick(4); edits > 0 && !bytes.empty(); --edits) {
      const std::size_t at = pick(bytes.size());
      switch (pick(5)) {
        case 0: bytes[at] = static_cast<std::byte>(pick(256)); break;
        case 1: bytes[at] = static_cast<std::byte>(interesting[pick(interesting.size())]); break;
        case 2: bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at)); break;
        case 3:
          bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                       static_cast<std::byte>(interesting[pick(interesting.size())]));
          break;
        default: bytes.resize(at); break;
      }
    }
    if (iteration % 2 == 0 && bytes.size() >= 8) {
      const std::uint64_t repaired =
          std::min<std::uint64_t>(header_length + bytes.size() - original.size(), bytes.size() - 8);
      for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::byte>((repaired >> (8 * i)) & 0xff);
    }
    try {
      const SafetensorsFile file = SafetensorsFile::parse(bytes, "mutant");
      std::uint64_t covered = 0;
      for (const TensorEntry& tensor : file.tensors()) {
        ASSERT_GE(tensor.bytes.data(), bytes.data());
        ASSERT_LE(tensor.bytes.data() + tensor.bytes.size(), bytes.data() + bytes.size());
        covered += tensor.bytes.size();
      }
      ASSERT_EQ(covered, file.data_bytes());
      ++accepted;
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), ErrorCode::invalid_model) << e.what();
      ASSERT_EQ(std::string_view(e.what()).substr(0, 6), "mutant") << e.what();
    }
  }
  EXPECT_GT(accepted, 0);  // some mutants (e.g. in tensor data) are still valid files
}

// Structured mutations: the header stays valid JSON but its numbers, dtypes and the data size
// change, which exercises the offset, size and layout checks far more often than byte flips.
TEST(Safetensors, SurvivesRandomHeaderEdits) {
  const std::vector<std::byte> original = sample_file();
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, original.data(), 8);
  const std::string header_text(reinterpret_cast<const char*>(original.data()) + 8, header_length);
  const nlohmann::json header = nlohmann::json::parse(header_text);
  const std::size_t data_bytes = original.size() - 8 - header_length;
  const std::vector<nlohmann::json> values = {0,
                                              1,
                                              2,
                                              3,
                                              4,
                                              8,
                                              12,
                                              24,
                                              28,
                                              31,
                                              32,
                                              36,
                                              -1,
                                              4611686018427387904ull,
                                              18446744073709551615ull,
                                              1.5,
                                              "F32",
                                              "F4",
                                              "BOOL",
                                              "I64",
                                              nlohmann::json::array(),
                                              nullptr};
  std::mt19937_64 random(42);
  const auto pick = [&random](std::size_t bound) {
    return std::uniform_int_distribution<std::size_t>(0, bound - 1)(random);
  };
  std::map<std::string, int> outcomes;
  for (int iteration = 0; iteration < 8000; ++iteration) {
    nlohmann::json edited = header;
    for (std::size_t edits = 1 + pick(3); edits > 0; --edits) {
      auto tensor = std::next(edited.begin(), static_cast<std::ptrdiff_t>(pick(edited.size())));
      if (tensor.key() == "__metadata__") continue;
      nlohmann::json& offsets = (*tensor)["data_offsets"];
      if (pick(3) == 0 && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
          offsets[1].is_number_unsigned()) {  // move the tensor, keeping its size
        const std::uint64_t shift = std::array{1u, 2u, 4u, 8u}[pick(4)];
        const bool down = pick(2) == 0 && offsets[0].get<std::uint64_t>() >= shift;
        for (nlohmann::json& offset : offsets) {
          const auto value = offset.get<std::uint64_t>();
          offset = down ? value - shift : value + shift;
        }
        continue;
      }
      nlohmann::json& field = (*tensor)[std::array{"dtype", "shape", "data_offsets"}[pick(3)]];
      if (field.is_array() && !field.empty()) {
        field[pick(field.size())] = values[pick(values.size())];
      } else {
        field = values[pick(values.size())];
      }
    }
    const std::size_t data = pick(4) == 0 ? pick(data_bytes + 8) : data_bytes;
    const std::vector<std::byte> bytes = raw_file(edited.dump(), data);
    try {
      const SafetensorsFile file = SafetensorsFile::parse(bytes, "edited");
      for (const TensorEntry& tensor : file.tensors()) {
        ASSERT_LE(tensor.bytes.data() + tensor.bytes.size(), bytes.data() + bytes.size());
      }
      ++outcomes["accepted"];
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), ErrorCode::invalid_model) << e.what();
      const std::string message = e.what();
      for (const char* kind : {"reversed", "overlap", "no tensor", "trailing", "past the end",
                               "needs", "64 bits", "whole number"}) {
        if (message.find(kind) != std::string::npos) ++outcomes[kind];
      }
    }
  }
  for (const char* kind : {"accepted", "reversed", "overlap", "no tensor", "trailing",
                           "past the end", "needs", "64 bits"}) {
    EXPECT_GT(outcomes[kind], 0) << kind << " never reached";
  }
}

}  // namespace
}  // namespace hades
