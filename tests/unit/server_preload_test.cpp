// The preload list (--preload, HADES_PRELOAD).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "engine/runtime.hpp"
#include "hades/error.hpp"
#include "server/preload.hpp"
#include "support/expect_error.hpp"

namespace hades::server {
namespace {

using std::chrono::milliseconds;
using test::expect_error;

TEST(Preload, ReadsModelsWithTheirOptions) {
  const auto models = parse_preload_list(
      "org/a@abc123?dtype=int8&pin,/models/b,org/"
      "c?keep_alive=5m&pin=true&default_prompt_name=query",
      "--preload");
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].model, "org/a@abc123");
  EXPECT_EQ(models[0].options.dtype, "int8");
  EXPECT_TRUE(models[0].options.pin);
  EXPECT_EQ(models[1].model, "/models/b");
  EXPECT_FALSE(models[1].options.pin);
  EXPECT_FALSE(models[1].options.keep_alive);
  EXPECT_EQ(models[2].options.keep_alive, milliseconds(300'000));
  EXPECT_TRUE(models[2].options.pin);
  EXPECT_FALSE(models[1].options.default_prompt_name);
  EXPECT_EQ(models[2].options.default_prompt_name, "query");
}

TEST(Preload, NamesTheEntryAtFault) {
  expect_error([] { parse_preload_list("a,,b", "HADES_PRELOAD"); }, ErrorCode::invalid_argument,
               {"HADES_PRELOAD entry ''", "no model"});
  expect_error([] { parse_preload_list("a?color=red", "HADES_PRELOAD"); },
               ErrorCode::invalid_argument, {"entry 'a?color=red'", "unknown option 'color=red'"});
  expect_error([] { parse_preload_list("a?keep_alive=soon", "--preload"); },
               ErrorCode::invalid_argument, {"keep_alive", "'soon'"});
}

TEST(Preload, StatusCountsAModelOnceItsFirstLoadSucceeded) {
  PreloadStatus status(parse_preload_list("a,b", "--preload"));
  EXPECT_EQ(status.waiting().size(), 2u);
  status.loaded(0);
  status.failed(1, "model_not_found: Model not found: b");
  ASSERT_EQ(status.waiting().size(), 1u);
  EXPECT_NE(status.waiting()[0].find("b failed to load: model_not_found"), std::string::npos);
  status.loaded(1);
  EXPECT_TRUE(status.waiting().empty());
}

}  // namespace
}  // namespace hades::server
