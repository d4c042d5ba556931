// The other APIs' request bodies → engine requests (OpenAI's /v1/embeddings, TEI's /embed): token
// ids in place of texts and TEI's truncation_direction. No sockets, no engine.
#include <gtest/gtest.h>

#include <string>

#include "hades/error.hpp"
#include "server/compat_requests.hpp"
#include "support/expect_error.hpp"

namespace hades::server {
namespace {

using nlohmann::json;
using test::expect_error;

const RequestLimits kLimits{.max_inputs = 4};

OpenAiEmbedRequest openai(const char* body) {
  return parse_openai_embed_request(json::parse(body), kLimits, "default/model");
}

runtime::EmbedRequest tei(const char* body) {
  return parse_tei_embed_request(json::parse(body), kLimits, "default/model");
}

TEST(ServerCompatRequests, OpenAiTakesOneListOfIdsOrAListOfThem) {
  const OpenAiEmbedRequest one = openai(R"({"model":"m","input":[101,7592,102]})");
  EXPECT_TRUE(one.embed.inputs.empty());
  EXPECT_EQ(one.embed.token_ids, (std::vector<std::vector<int32_t>>{{101, 7592, 102}}));
  // An overlong list of the caller's own ids is refused, as OpenAI refuses it, not cut.
  EXPECT_FALSE(one.embed.truncate);
  const OpenAiEmbedRequest two = openai(R"({"model":"m","input":[[1,2],[3]]})");
  EXPECT_EQ(two.embed.token_ids, (std::vector<std::vector<int32_t>>{{1, 2}, {3}}));
  const OpenAiEmbedRequest text = openai(R"({"model":"m","input":["a","b"]})");
  EXPECT_EQ(text.embed.inputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(text.embed.token_ids.empty());
  EXPECT_TRUE(text.embed.truncate);
}

TEST(ServerCompatRequests, BadIdsNameTheirPlace) {
  expect_error([] { openai(R"({"model":"m","input":[[1,2],[3,-1]]})"); },
               ErrorCode::invalid_argument, {"field 'input'[1]", "token ids", "-1"});
  expect_error([] { openai(R"({"model":"m","input":[1,2.5]})"); }, ErrorCode::invalid_argument,
               {"field 'input' must hold token ids", "2.5"});
  expect_error([] { openai(R"({"model":"m","input":[1,4294967296]})"); },
               ErrorCode::invalid_argument, {"4294967296"});
  expect_error([] { openai(R"({"model":"m","input":[[1],"text"]})"); }, ErrorCode::invalid_argument,
               {"field 'input'[1] must be a list of token ids"});
  expect_error([] { openai(R"({"model":"m","input":[[1],[2],[3],[4],[5]]})"); },
               ErrorCode::too_large, {"5 inputs", "limit is 4"});
  expect_error([] { openai(R"({"model":"m","input":["text",[1]]})"); }, ErrorCode::invalid_argument,
               {"field 'input'[1] must be a string"});
}

TEST(ServerCompatRequests, TeiTakesIdsAndBothTruncationDirections) {
  const runtime::EmbedRequest ids = tei(R"({"inputs":[[101,102]],"truncate":true})");
  EXPECT_EQ(ids.model, "default/model");
  EXPECT_EQ(ids.token_ids, (std::vector<std::vector<int32_t>>{{101, 102}}));
  EXPECT_TRUE(ids.truncate);
  EXPECT_EQ(ids.truncation_direction, TruncationDirection::right);
  EXPECT_EQ(tei(R"({"inputs":"a","truncation_direction":"Left"})").truncation_direction,
            TruncationDirection::left);
  EXPECT_EQ(tei(R"({"inputs":"a","truncation_direction":"right"})").truncation_direction,
            TruncationDirection::right);
  expect_error([] { tei(R"({"inputs":"a","truncation_direction":"middle"})"); },
               ErrorCode::invalid_argument, {"truncation_direction", "'middle'"});
}

TEST(ServerCompatRequests, TeiRerankStillCutsOnTheRightOnly) {
  expect_error(
      [] {
        parse_tei_rerank_request(
            json::parse(R"({"query":"q","texts":["a"],"truncation_direction":"left"})"), kLimits,
            "m");
      },
      ErrorCode::unsupported, {"truncation_direction 'left'", "/rerank"});
}

}  // namespace
}  // namespace hades::server
