// Request bodies → engine requests: strict types, limits and the error code of each violation
// (docs/protocol.md). No sockets, no engine.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hades/error.hpp"
#include "server/requests.hpp"

namespace hades::server {
namespace {

using nlohmann::json;

// The code of the Error that FN throws, failing the test when it throws none.
template <typename Fn>
ErrorCode code_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no hades::Error thrown";
  return ErrorCode::internal;
}

template <typename Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const RequestLimits kLimits{.max_inputs = 4};

TEST(ServerRequests, EmbedTakesAllFields) {
  const runtime::EmbedRequest r = parse_embed_request(
      json::parse(R"({"model":"m","inputs":["a","b"],"normalize":false,"truncate":false,
                      "pooling":"cls"})"),
      kLimits);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(r.normalize.has_value());
  EXPECT_FALSE(*r.normalize);
  EXPECT_FALSE(r.truncate);
  ASSERT_TRUE(r.pooling.has_value());
  EXPECT_EQ(*r.pooling, PoolingMode::cls);
}

TEST(ServerRequests, EmbedDefaultsAndNullMeansAbsent) {
  const runtime::EmbedRequest r = parse_embed_request(
      json::parse(R"({"model":"m","inputs":"one text","normalize":null,"pooling":null})"), kLimits);
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"one text"}));
  EXPECT_FALSE(r.normalize.has_value());
  EXPECT_FALSE(r.pooling.has_value());
  EXPECT_TRUE(r.truncate);
}

TEST(ServerRequests, EmbedTruncationDirection) {
  const auto direction = [](const char* body) {
    return parse_embed_request(json::parse(body), kLimits).truncation_direction;
  };
  EXPECT_EQ(direction(R"({"model":"m","inputs":"a"})"), TruncationDirection::right);
  EXPECT_EQ(direction(R"({"model":"m","inputs":"a","truncation_direction":"left"})"),
            TruncationDirection::left);
  EXPECT_EQ(code_of([&] { direction(R"({"model":"m","inputs":"a","truncation_direction":1})"); }),
            ErrorCode::invalid_argument);
  EXPECT_NE(message_of([&] {
              direction(R"({"model":"m","inputs":"a","truncation_direction":"up"})");
            }).find("'right' or 'left'"),
            std::string::npos);
}

TEST(ServerRequests, EveryPoolingName) {
  EXPECT_EQ(parse_pooling_name("cls"), PoolingMode::cls);
  EXPECT_EQ(parse_pooling_name("mean"), PoolingMode::mean);
  EXPECT_EQ(parse_pooling_name("max"), PoolingMode::max);
  EXPECT_EQ(parse_pooling_name("mean_sqrt_len"), PoolingMode::mean_sqrt_len);
  EXPECT_EQ(parse_pooling_name("weightedmean"), PoolingMode::weighted_mean);
  EXPECT_EQ(parse_pooling_name("lasttoken"), PoolingMode::last_token);
  EXPECT_EQ(code_of([] { parse_pooling_name("median"); }), ErrorCode::invalid_argument);
  EXPECT_NE(message_of([] { parse_pooling_name("median"); }).find("median"), std::string::npos);
}

TEST(ServerRequests, WrongTypesAreInvalidArgument) {
  const char* bodies[] = {
      R"({"inputs":["a"]})",                                // no model
      R"({"model":"","inputs":["a"]})",                     // empty model
      R"({"model":7,"inputs":["a"]})",                      // model not a string
      R"({"model":"m"})",                                   // no inputs
      R"({"model":"m","inputs":5})",                        // inputs a number
      R"({"model":"m","inputs":{"a":1}})",                  // inputs an object
      R"({"model":"m","inputs":["a",3]})",                  // an input not a string
      R"({"model":"m","inputs":["a",null]})",               // an input null
      R"({"model":"m","inputs":[["a"]]})",                  // nested
      R"({"model":"m","inputs":["a"],"normalize":"yes"})",  // bool as string
      R"({"model":"m","inputs":["a"],"truncate":1})",       // bool as number
      R"({"model":"m","inputs":["a"],"pooling":3})",        // pooling not a string
      R"({"model":"m","inputs":["a"],"pooling":"avg"})",    // unknown pooling
      R"({"model":"m","inputs":["a"],"normalise":true})",   // unknown field
  };
  for (const char* body : bodies) {
    SCOPED_TRACE(body);
    EXPECT_EQ(code_of([&] { parse_embed_request(json::parse(body), kLimits); }),
              ErrorCode::invalid_argument);
  }
}

TEST(ServerRequests, MessagesNameTheField) {
  EXPECT_NE(message_of([] {
              parse_embed_request(json::parse(R"({"model":"m","inputs":["a",3]})"), kLimits);
            }).find("'inputs'[1]"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              parse_embed_request(json::parse(R"({"model":"m","inputs":["a"],"normalise":1})"),
                                  kLimits);
            }).find("normalise"),
            std::string::npos);
}

TEST(ServerRequests, EmptyInputsAreInvalidArgument) {
  EXPECT_EQ(
      code_of([] { parse_embed_request(json::parse(R"({"model":"m","inputs":[]})"), kLimits); }),
      ErrorCode::invalid_argument);
  EXPECT_EQ(
      code_of([] { parse_tokenize_request(json::parse(R"({"model":"m","inputs":[]})"), kLimits); }),
      ErrorCode::invalid_argument);
}

TEST(ServerRequests, TooManyInputsAreTooLarge) {
  const json body = {{"model", "m"}, {"inputs", {"a", "b", "c", "d", "e"}}};
  EXPECT_EQ(code_of([&] { parse_embed_request(body, kLimits); }), ErrorCode::too_large);
  EXPECT_EQ(code_of([&] { parse_tokenize_request(body, kLimits); }), ErrorCode::too_large);
  const json at_limit = {{"model", "m"}, {"inputs", {"a", "b", "c", "d"}}};
  EXPECT_EQ(parse_embed_request(at_limit, kLimits).inputs.size(), 4u);
}

TEST(ServerRequests, Tokenize) {
  const runtime::TokenizeRequest r = parse_tokenize_request(
      json::parse(R"({"model":"m","inputs":["x"],"add_special_tokens":false})"), kLimits);
  EXPECT_EQ(r.model, "m");
  EXPECT_FALSE(r.add_special_tokens);
  EXPECT_TRUE(r.truncate);
  EXPECT_EQ(r.truncation_direction, TruncationDirection::right);
  EXPECT_EQ(parse_tokenize_request(
                json::parse(R"({"model":"m","inputs":"x","truncation_direction":"left"})"), kLimits)
                .truncation_direction,
            TruncationDirection::left);
  EXPECT_EQ(code_of([] {
              parse_tokenize_request(json::parse(R"({"model":"m","inputs":["x"],"pooling":"cls"})"),
                                     kLimits);
            }),
            ErrorCode::invalid_argument);
}

TEST(ServerRequests, LoadAndUnload) {
  const LoadRequest load =
      parse_load_request(json::parse(R"({"model":"org/name","device":"cpu","pin":true})"));
  EXPECT_EQ(load.model, "org/name");
  EXPECT_EQ(load.options.device, "cpu");
  EXPECT_TRUE(load.options.pin);
  const LoadRequest plain = parse_load_request(json::parse(R"({"model":"m"})"));
  EXPECT_EQ(plain.options.device, "");
  EXPECT_FALSE(plain.options.pin);
  EXPECT_EQ(plain.options.dtype, "");
  EXPECT_EQ(parse_load_request(json::parse(R"({"model":"m","dtype":"int8"})")).options.dtype,
            "int8");
  EXPECT_EQ(code_of([] { parse_load_request(json::parse(R"({"model":"m","dtype":8})")); }),
            ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([] { parse_load_request(json::parse(R"({"model":"m","pin":"yes"})")); }),
            ErrorCode::invalid_argument);
  EXPECT_FALSE(plain.options.default_prompt_name.has_value());
  EXPECT_EQ(parse_load_request(json::parse(R"({"model":"m","default_prompt_name":"query"})"))
                .options.default_prompt_name,
            "query");
  EXPECT_EQ(
      code_of([] { parse_load_request(json::parse(R"({"model":"m","default_prompt_name":1})")); }),
      ErrorCode::invalid_argument);
  EXPECT_EQ(parse_unload_request(json::parse(R"({"model":"m"})")), "m");
  EXPECT_EQ(code_of([] { parse_unload_request(json::parse(R"({"model":"m","pin":true})")); }),
            ErrorCode::invalid_argument);
}

TEST(ServerRequests, ClassifyWithPairs) {
  const runtime::ClassifyRequest r = parse_classify_request(
      json::parse(R"({"model":"m","inputs":["q1","q2"],"pairs":["d1","d2"]})"), kLimits);
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"q1", "q2"}));
  EXPECT_EQ(r.pairs, (std::vector<std::string>{"d1", "d2"}));
  EXPECT_TRUE(
      parse_classify_request(json::parse(R"({"model":"m","inputs":"a"})"), kLimits).pairs.empty());
  EXPECT_EQ(code_of([] {
              parse_classify_request(
                  json::parse(R"({"model":"m","inputs":["a"],"pairs":["b","c"]})"), kLimits);
            }),
            ErrorCode::invalid_argument);
  EXPECT_NE(message_of([] {
              parse_classify_request(json::parse(R"({"model":"m","inputs":["a"],"pairs":[1]})"),
                                     kLimits);
            }).find("'pairs'[0]"),
            std::string::npos);
}

TEST(ServerRequests, RerankPairsTheQueryWithEachDocument) {
  const RerankRequest r = parse_rerank_request(
      json::parse(R"({"model":"m","query":"q","documents":["d1","d2","d3"]})"), kLimits);
  EXPECT_EQ(r.pairs.inputs, (std::vector<std::string>{"q", "q", "q"}));
  EXPECT_EQ(r.pairs.pairs, (std::vector<std::string>{"d1", "d2", "d3"}));
  EXPECT_FALSE(r.raw_scores);
  EXPECT_TRUE(
      parse_rerank_request(
          json::parse(R"({"model":"m","query":"q","documents":["d"],"raw_scores":true})"), kLimits)
          .raw_scores);
  EXPECT_EQ(code_of([] {
              parse_rerank_request(
                  json::parse(R"({"model":"m","query":"q","documents":["d"],"raw_scores":1})"),
                  kLimits);
            }),
            ErrorCode::invalid_argument);
  EXPECT_NE(message_of([] {
              parse_rerank_request(json::parse(R"({"model":"m","query":"q","documents":[]})"),
                                   kLimits);
            }).find("'documents'"),
            std::string::npos);
  EXPECT_EQ(code_of([] {
              parse_rerank_request(json::parse(R"({"model":"m","documents":["d"]})"), kLimits);
            }),
            ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([] {
              parse_rerank_request(
                  json::parse(R"({"model":"m","query":"q","documents":["1","2","3","4","5"]})"),
                  kLimits);
            }),
            ErrorCode::too_large);
}

TEST(ServerRequests, ChunkMaxLength) {
  EXPECT_EQ(
      parse_chunk_request(json::parse(R"({"model":"m","inputs":"t","max_length":512})"), kLimits)
          .max_length,
      512);
  EXPECT_FALSE(
      parse_chunk_request(json::parse(R"({"model":"m","inputs":"t"})"), kLimits).max_length);
  for (const char* body : {R"({"model":"m","inputs":"t","max_length":2})",
                           R"({"model":"m","inputs":"t","max_length":1.5})",
                           R"({"model":"m","inputs":"t","max_length":"big"})",
                           R"({"model":"m","inputs":"t","max_length":-7})"}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(code_of([&] { parse_chunk_request(json::parse(body), kLimits); }),
              ErrorCode::invalid_argument);
  }
}

TEST(ServerRequests, TokenClassifyTakesItsOwnFields) {
  const runtime::TokenClassifyRequest r = parse_token_classify_request(
      json::parse(R"({"model":"m","inputs":["a","b"],"max_length":64})"), kLimits);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.max_length, 64);
  EXPECT_FALSE(parse_token_classify_request(json::parse(R"({"model":"m","inputs":"t"})"), kLimits)
                   .max_length);
  for (const char* body : {R"({"model":"m","inputs":"t","max_length":2})",
                           R"({"model":"m","inputs":"t","max_length":"big"})"}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(code_of([&] { parse_token_classify_request(json::parse(body), kLimits); }),
              ErrorCode::invalid_argument);
  }
  EXPECT_EQ(code_of([] {
              parse_token_classify_request(
                  json::parse(R"({"model":"m","inputs":["1","2","3","4","5"]})"), kLimits);
            }),
            ErrorCode::too_large);
}

// Chunking's own options are unknown fields here, refused as every route refuses fields it does
// not take, with the fields that it does.
TEST(ServerRequests, TokenClassifyRefusesChunkingsOptions) {
  for (const char* body : {R"({"model":"m","inputs":"t","clean":"html"})",
                           R"({"model":"m","inputs":"t","snap_to_whitespace":true})"}) {
    SCOPED_TRACE(body);
    const auto parse = [&] { parse_token_classify_request(json::parse(body), kLimits); };
    EXPECT_EQ(code_of(parse), ErrorCode::invalid_argument);
    EXPECT_NE(message_of(parse).find("(this route takes: model, inputs, max_length)"),
              std::string::npos)
        << message_of(parse);
  }
  EXPECT_EQ(
      parse_chunk_request(
          json::parse(R"({"model":"m","inputs":"t","clean":"html","snap_to_whitespace":true})"),
          kLimits)
          .snap_to_whitespace,
      true);
}

TEST(ServerRequests, MalformedJsonIsInvalidArgument) {
  for (const char* body : {"", "{", "{\"model\":}", "not json", "{\"a\":1} trailing"}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(code_of([&] { parse_json_body(body); }), ErrorCode::invalid_argument);
  }
  EXPECT_NE(message_of([] { parse_json_body("{"); }).find("malformed JSON"), std::string::npos);
}

// Found by fuzz_request_body: a number beyond double is nlohmann's out_of_range, not a
// parse_error, and escaped the parser as a non-hades exception (a 500 through the router).
TEST(ServerRequests, NumberOutOfRangeIsInvalidArgument) {
  for (const char* body : {R"({"model": 1e999})", R"({"model": "m", "inputs": ["a"], "x": -1e400})",
                           "{\"model\": 1111e111111111(111"}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(code_of([&] { parse_json_body(body); }), ErrorCode::invalid_argument);
  }
  EXPECT_NE(message_of([] { parse_json_body(R"({"model": 1e999})"); }).find("malformed JSON"),
            std::string::npos);
}

// A body nested as deep as the size limit allows is parsed and freed without recursion.
TEST(ServerRequests, DeeplyNestedBodyIsInvalidArgument) {
  const size_t depth = 1'000'000;
  const std::string body =
      R"({"model": "m", "inputs": )" + std::string(depth, '[') + std::string(depth, ']') + "}";
  EXPECT_EQ(code_of([&] { parse_embed_request(parse_json_body(body), kLimits); }),
            ErrorCode::invalid_argument);
}

TEST(ServerRequests, BodyMustBeAnObject) {
  for (const char* body : {"[]", "\"text\"", "3", "null"}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(code_of([&] { parse_json_body(body); }), ErrorCode::invalid_argument);
  }
}

TEST(ServerRequests, InvalidUnicodeIsInputInvalid) {
  // A stray continuation byte, an overlong '/', an encoded surrogate, a truncated sequence, and
  // a \u escape naming a lone surrogate.
  for (const std::string& body : {std::string("{\"model\":\"m\",\"inputs\":[\"a\x80\"]}"),
                                  std::string("{\"model\":\"m\",\"inputs\":[\"\xC0\xAF\"]}"),
                                  std::string("{\"model\":\"m\",\"inputs\":[\"\xED\xA0\x80\"]}"),
                                  std::string("{\"model\":\"m\",\"inputs\":[\"\xE2\x82\"]}"),
                                  std::string(R"({"model":"m","inputs":["\ud800"]})")}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(code_of([&] { parse_json_body(body); }), ErrorCode::input_invalid);
  }
}

TEST(ServerRequests, ValidUnicodeAndEscapesPass) {
  const json body = parse_json_body(
      "{\"model\":\"m\",\"inputs\":[\"caf\xC3\xA9 \xF0\x9F\x98\x80 \\ud83d\\ude00\"]}");
  const runtime::EmbedRequest r = parse_embed_request(body, kLimits);
  EXPECT_EQ(r.inputs[0], "caf\xC3\xA9 \xF0\x9F\x98\x80 \xF0\x9F\x98\x80");
}

TEST(ServerRequests, DeepNestingIsRejectedWithoutCrashing) {
  const std::string deep =
      "{\"model\":\"m\",\"inputs\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(code_of([&] { parse_embed_request(parse_json_body(deep), kLimits); }),
            ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace hades::server
