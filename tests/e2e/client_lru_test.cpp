// The service's LRU seen from a client, with HADES_MAX_MODELS=2 and three distinct models (copies
// of the MiniLM folder, each its own id): the least recently used goes, pinned models stay, and a
// load that could only succeed by evicting a pinned model is refused.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "client_support.hpp"
#include "hades/engine.hpp"

namespace hades {
namespace {

std::set<std::string> loaded_ids(HaystackModelEngine& engine) {
  std::set<std::string> out;
  for (const LoadedModel& m : engine.get_loaded_models()) out.insert(m.id);
  return out;
}

TEST(ClientLru, LeastRecentlyUsedIsEvictedAndPinnedModelsSurvive) {
  test::ServiceSandbox sandbox;
  // The daemon inherits this process's environment when the engine starts it.
  ::setenv("HADES_MAX_MODELS", "2", 1);
  const std::string a = test::minilm_copy(sandbox.dir() / "a");
  const std::string b = test::minilm_copy(sandbox.dir() / "b");
  const std::string c = test::minilm_copy(sandbox.dir() / "c");
  HaystackModelEngine engine(sandbox.options());
  engine.start();
  ::unsetenv("HADES_MAX_MODELS");
  EXPECT_EQ(engine.status().limits.at("max_models"), "2");

  engine.load_model(a);
  engine.load_model(b);
  engine.embed(a, {"a is used after b was loaded"});
  engine.load_model(c);
  EXPECT_EQ(loaded_ids(engine), (std::set<std::string>{a, c})) << "b was least recently used";
  EXPECT_NE(sandbox.log().find(b), std::string::npos) << "the eviction is logged";

  // A pinned model stays even when it is the least recently used.
  engine.unload_model(a);
  engine.unload_model(c);
  LoadModelOptions pin;
  pin.pin = true;
  engine.load_model(a, pin);
  engine.load_model(b);
  engine.load_model(c);
  EXPECT_EQ(loaded_ids(engine), (std::set<std::string>{a, c})) << "b went, pinned a stayed";
  engine.embed(b, {"an inference request loads its model"});
  EXPECT_EQ(loaded_ids(engine), (std::set<std::string>{a, b}));

  // With both places held by pinned models, a third model cannot be loaded.
  engine.unload_model(b);
  engine.load_model(b, pin);
  try {
    engine.load_model(c);
    ADD_FAILURE() << "loaded a third model past two pinned ones";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::conflict) << e.what();
  }
  EXPECT_EQ(loaded_ids(engine), (std::set<std::string>{a, b}));
  for (const LoadedModel& m : engine.get_loaded_models()) EXPECT_TRUE(m.pinned) << m.id;
  EXPECT_GE(std::stoi(engine.status().stats.at("evictions")), 2);
  EXPECT_TRUE(engine.stop().was_running);
}

}  // namespace
}  // namespace hades
