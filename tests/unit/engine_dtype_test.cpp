// The per-load `dtype` option through the engine: a model loads in the precision asked for, lists
// it, keeps it for requests and loads without one, refuses another one while loaded (conflict
// naming the loaded one), and refuses bf16 on a CPU without it naming what the CPU lacks.
#include <gtest/gtest.h>

#include "compute/backend.hpp"
#include "engine/runtime.hpp"
#include "hades/error.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

runtime::EngineConfig cpu_config() {
  runtime::EngineConfig config;
  config.default_device = "cpu";
  return config;
}

ErrorCode load_error(runtime::Engine& engine, const std::string& id,
                     const runtime::LoadModelOptions& options, std::string* message = nullptr) {
  try {
    engine.load_model(id, options);
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.code();
  }
  return ErrorCode::internal;  // "no error": no test expects internal
}

TEST(EngineDtypeTest, Int8LoadShowsItsDtypeAndServesCloseToFp32) {
  runtime::Engine engine(cpu_config());
  const std::string id = test::minilm_dir().string();
  const runtime::LoadedModel int8 = engine.load_model(id, {.dtype = "int8"});
  EXPECT_EQ(int8.dtype, "int8");
  ASSERT_EQ(engine.get_loaded_models().size(), 1u);
  EXPECT_EQ(engine.get_loaded_models()[0].dtype, "int8");
  // A load without dtype takes the model as it is.
  EXPECT_EQ(engine.load_model(id).dtype, "int8");
  const runtime::EmbeddingResult quantized =
      engine.embed({.model = id, .inputs = {"a sentence to embed"}});

  std::string message;
  EXPECT_EQ(load_error(engine, id, {.dtype = "fp32"}, &message), ErrorCode::conflict);
  EXPECT_NE(message.find("loaded in int8"), std::string::npos) << message;

  engine.unload_model(id);
  const runtime::LoadedModel fp32 = engine.load_model(id, {.dtype = "fp32"});
  EXPECT_EQ(fp32.dtype, "fp32");
  EXPECT_LT(int8.memory_bytes, fp32.memory_bytes * 7 / 10);
  const runtime::EmbeddingResult exact =
      engine.embed({.model = id, .inputs = {"a sentence to embed"}});
  EXPECT_GT(test::cosine(quantized.values, exact.values), 0.99);
  EXPECT_GT(test::max_abs_diff(quantized.values, exact.values), 0.0f);  // really quantized
}

TEST(EngineDtypeTest, ImplicitLoadsAreFp32) {
  runtime::Engine engine(cpu_config());
  const std::string id = test::minilm_dir().string();
  engine.embed({.model = id, .inputs = {"x"}});
  EXPECT_EQ(engine.get_loaded_models().at(0).dtype, "fp32");
}

TEST(EngineDtypeTest, UnknownDtypeIsAnInvalidArgument) {
  runtime::Engine engine(cpu_config());
  std::string message;
  EXPECT_EQ(load_error(engine, test::minilm_dir().string(), {.dtype = "fp8"}, &message),
            ErrorCode::invalid_argument);
  EXPECT_NE(message.find("fp32, int8, bf16 or auto"), std::string::npos) << message;
  EXPECT_TRUE(engine.get_loaded_models().empty());
}

TEST(EngineDtypeTest, Bf16AndAutoFollowTheCpu) {
  runtime::Engine engine(cpu_config());
  const std::string id = test::minilm_dir().string();
  const std::string lack = cpu_precision_unavailable(LinearPrecision::bf16);
  if (lack.empty()) {
    EXPECT_EQ(engine.load_model(id, {.dtype = "auto"}).dtype, "bf16");
    return;
  }
  std::string message;
  EXPECT_EQ(load_error(engine, id, {.dtype = "bf16"}, &message), ErrorCode::invalid_argument);
  EXPECT_EQ(message, lack);
  EXPECT_TRUE(engine.get_loaded_models().empty());  // nothing failed is left behind
  EXPECT_EQ(engine.load_model(id, {.dtype = "auto"}).dtype, "fp32");
}

}  // namespace
}  // namespace hades
