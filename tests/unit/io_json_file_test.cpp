// JSON config files: reading, parse errors with positions, limits, typed getters whose errors
// name the file and the key, and the refusal of remote code.
#include "io/json_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

#include "hades/error.hpp"
#include "io/mapped_file.hpp"
#include "support/expect_error.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::expect_error;
using test::TempDir;
using test::write_file;

TEST(JsonFile, ReadsAFile) {
  const TempDir dir;
  write_file(dir.path() / "config.json", R"({"hidden_size": 384, "name": "x"})");
  const json config = read_json_file(dir.path() / "config.json");
  EXPECT_EQ(config.at("hidden_size"), 384);
}

TEST(JsonFile, ReportsMissingFilesAndParseErrorsWithPosition) {
  const TempDir dir;
  const fs::path path = dir.path() / "config.json";
  expect_error([&] { read_json_file(path); }, ErrorCode::not_found,
               {path.string(), "file not found"});
  write_file(path, "{\n  \"a\": 1,\n  \"b\": tru, \"c\": 2\n}");
  expect_error([&] { read_json_file(path); }, ErrorCode::invalid_model,
               {path.string() + ": invalid JSON", "line 3, column", "(byte "});
  write_file(path, "{\"a\": 1} trailing");
  expect_error([&] { read_json_file(path); }, ErrorCode::invalid_model, {"invalid JSON"});
  write_file(path, "");
  expect_error([&] { read_json_file(path); }, ErrorCode::invalid_model, {"invalid JSON"});
  write_file(path, "{\"a\": \"\xff\xfe\"}");
  expect_error([&] { read_json_file(path); }, ErrorCode::invalid_model,
               {"invalid JSON", "\\xff"});  // the bad bytes are shown escaped
  write_file(path, std::string_view("{\"a\": 1}\0{\"b\": 2}", 17));
  expect_error([&] { read_json_file(path); }, ErrorCode::invalid_model,
               {"NUL character at byte 8"});
  write_file(path, "[" + std::string(100000, '"'));
  expect_error([&] { read_json_file(path); }, ErrorCode::invalid_model, {"invalid JSON"});
}

TEST(JsonFile, LimitsDepthAndSize) {
  const TempDir dir;
  const fs::path path = dir.path() / "deep.json";
  write_file(path, std::string(100000, '[') + std::string(100000, ']'));
  expect_error([&] { read_json_file(path); }, ErrorCode::invalid_model,
               {"deep.json", "nested deeper than 256 levels"});
  write_file(path, std::string(255, '[') + std::string(255, ']'));
  EXPECT_NO_THROW(read_json_file(path));
  write_file(path, std::string(2000, ' ') + "{}");
  expect_error([&] { read_file_text(path, 1000); }, ErrorCode::invalid_model,
               {"deep.json", "2002 bytes, more than the limit of 1000"});
}

TEST(JsonFile, RefusesDirectoriesAndFifosWithoutBlocking) {
  const TempDir dir;
  fs::create_directory(dir.path() / "config.json");
  expect_error([&] { read_json_file(dir.path() / "config.json"); }, ErrorCode::invalid_model,
               {"config.json: not a regular file"});
  const fs::path fifo = dir.path() / "fifo.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error([&] { read_json_file(fifo); }, ErrorCode::invalid_model, {"not a regular file"});
}

TEST(JsonFile, DuplicateKeysKeepLastOrAreRejected) {
  constexpr std::string_view text = R"({"a": 1, "n": {"b": 1, "b": 2}})";
  EXPECT_EQ(parse_json_text(text, "x.json").at("n").at("b"), 2);
  expect_error([&] { parse_json_text(text, "x.json", DuplicateKeys::reject); },
               ErrorCode::invalid_model, {"x.json: invalid JSON: duplicate key 'b'"});
  // The same key in sibling objects is not a duplicate.
  EXPECT_NO_THROW(
      parse_json_text(R"([{"a": 1}, {"a": 2}, {"a": {"a": 3}}])", "x.json", DuplicateKeys::reject));
}

TEST(JsonFields, TypedGettersNameTheFileAndTheKey) {
  const json config = json::parse(R"({
    "hidden_size": "abc", "layers": 6, "negative": -3, "zero": 0, "ratio": 0.5,
    "huge": 18446744073709551615, "flag": true, "name": "bert", "unset": null,
    "rope": {"factor": "x", "type": "linear"}, "list": [1, 2]
  })");
  const JsonFields fields(config, "config.json");
  expect_error([&] { fields.get_positive_int("hidden_size"); }, ErrorCode::invalid_model,
               {R"(config.json: 'hidden_size' must be a positive integer, got "abc")"});
  EXPECT_EQ(fields.get_positive_int("layers"), 6);
  EXPECT_EQ(fields.get_int("negative"), -3);
  EXPECT_EQ(fields.get_non_negative_int("zero"), 0);
  expect_error([&] { fields.get_positive_int("zero"); }, ErrorCode::invalid_model,
               {"'zero' must be a positive integer, got 0"});
  expect_error([&] { fields.get_non_negative_int("negative"); }, ErrorCode::invalid_model,
               {"'negative' must be a non-negative integer, got -3"});
  expect_error([&] { fields.get_int("ratio"); }, ErrorCode::invalid_model,
               {"'ratio' must be an integer, got 0.5"});
  expect_error([&] { fields.get_int("huge"); }, ErrorCode::invalid_model,
               {"'huge' must be an integer, got 18446744073709551615"});
  EXPECT_EQ(fields.get_number("ratio"), 0.5);
  EXPECT_EQ(fields.get_number("layers"), 6.0);
  EXPECT_TRUE(fields.get_bool("flag"));
  expect_error([&] { fields.get_bool("name"); }, ErrorCode::invalid_model,
               {"'name' must be true or false, got \"bert\""});
  EXPECT_EQ(fields.get_string("name"), "bert");
  expect_error([&] { fields.get_string("list"); }, ErrorCode::invalid_model,
               {"'list' must be a string, got an array"});
  expect_error([&] { fields.get_int("missing"); }, ErrorCode::invalid_model,
               {"config.json: 'missing' is required (an integer) but missing"});
  expect_error([&] { fields.get_int("unset"); }, ErrorCode::invalid_model,
               {"'unset' must be an integer, got null"});
  EXPECT_FALSE(fields.find_int("unset"));
  EXPECT_FALSE(fields.find_string("missing"));
  EXPECT_FALSE(fields.has("unset"));
  EXPECT_TRUE(fields.has("flag"));
  EXPECT_EQ(fields.find_positive_int("layers"), 6);

  const JsonFields rope = fields.get_object("rope");
  EXPECT_EQ(rope.get_string("type"), "linear");
  expect_error([&] { rope.get_number("factor"); }, ErrorCode::invalid_model,
               {"config.json: 'rope.factor' must be a number, got \"x\""});
  expect_error([&] { fields.get_object("name"); }, ErrorCode::invalid_model,
               {"'name' must be an object"});
  EXPECT_FALSE(fields.find_object("unset"));
  expect_error([&] { JsonFields(config.at("list"), "config.json"); }, ErrorCode::invalid_model,
               {"config.json: must be a JSON object, got an array"});
}

TEST(JsonFields, MessagesStayShortAndPrintable) {
  const json config = {{"name", std::string(5000, 'x')}, {"bad", std::string("a\0b\n", 4)}};
  const JsonFields fields(config, "config.json");
  try {
    fields.get_int("name");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 200u) << e.what();
  }
  EXPECT_EQ(describe_json_value(config.at("bad")), R"("a\u0000b\n")");
  EXPECT_EQ(quote_for_message(std::string("a\0b\n", 4)), "'a\\x00b\\x0a'");
  // Cut at a character boundary: "é" is two bytes and is not split.
  EXPECT_EQ(quote_for_message("aé", 2), "'a...' (3 bytes)");
  EXPECT_EQ(quote_for_message("short"), "'short'");
}

TEST(RemoteCode, AutoMapIsRefused) {
  EXPECT_NO_THROW(reject_remote_code(json::parse(R"({"model_type": "bert"})"), "config.json"));
  EXPECT_NO_THROW(reject_remote_code(json::parse("[]"), "config.json"));  // not an object
  expect_error(
      [&] {
        reject_remote_code(
            json::parse(R"({"auto_map": {"AutoTokenizer": ["tokenization_x.XTokenizer", null]}})"),
            "tokenizer_config.json");
      },
      ErrorCode::unsupported,
      {"tokenizer_config.json", "requires remote code (auto_map), which hades never runs"});
  expect_error(
      [&] {
        reject_remote_code(
            json::parse(R"({"auto_map": {"AutoModel": "modeling_x.XModel"}, "model_type": "x"})"),
            "config.json");
      },
      ErrorCode::unsupported, {"config.json: the model requires remote code (auto_map)"});
}

TEST(RemoteCode, MiniLmNeedsNone) {
  fs::path dir;
  try {
    dir = test::minilm_dir();
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  const json config = read_json_file(dir / "config.json");
  EXPECT_NO_THROW(reject_remote_code(config, "config.json"));
  const JsonFields fields(config, "config.json");
  EXPECT_EQ(fields.get_positive_int("hidden_size"), 384);
  EXPECT_EQ(fields.get_number("layer_norm_eps"), 1e-12);
  EXPECT_EQ(fields.get_string("model_type"), "bert");
}

}  // namespace
}  // namespace hades
