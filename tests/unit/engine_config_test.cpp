// The engine's configuration: sizes, durations and keep-alives as the HADES_* variables (and the
// CLI's flags) write them, and the config read from the environment.
#include "engine/config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "hades/error.hpp"
#include "support/expect_error.hpp"

namespace hades {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test::expect_error;

TEST(EngineConfigTest, ByteSizesAndEnvironmentValues) {
  EXPECT_EQ(runtime::parse_byte_size("4GiB", "X"), 4ull << 30);
  EXPECT_EQ(runtime::parse_byte_size("512MB", "X"), 512'000'000u);
  EXPECT_EQ(runtime::parse_byte_size("1000", "X"), 1000u);
  expect_error([] { runtime::parse_byte_size("4 gigs", "HADES_MAX_MEMORY"); },
               ErrorCode::invalid_argument, {"HADES_MAX_MEMORY"});
  expect_error([] { runtime::parse_byte_size("99999999999999999TiB", "X"); },
               ErrorCode::invalid_argument, {"X"});
  setenv("HADES_MAX_MODELS", "zero", 1);
  expect_error([] { runtime::engine_config_from_environment(); }, ErrorCode::invalid_argument,
               {"HADES_MAX_MODELS"});
  setenv("HADES_MAX_MODELS", "5", 1);
  setenv("HADES_MAX_MEMORY", "2GiB", 1);
  const runtime::EngineConfig config = runtime::engine_config_from_environment();
  EXPECT_EQ(config.max_models, 5u);
  EXPECT_EQ(config.max_memory_bytes, 2ull << 30);
  unsetenv("HADES_MAX_MODELS");
  unsetenv("HADES_MAX_MEMORY");
}

TEST(EngineConfigTest, QueueDelayFromTheEnvironment) {
  EXPECT_EQ(runtime::parse_duration_ms("250ms", "X"), 250ms);
  EXPECT_EQ(runtime::parse_duration_ms("2s", "X"), 2000ms);
  EXPECT_EQ(runtime::parse_duration_ms("750", "X"), 750ms);
  EXPECT_EQ(runtime::parse_duration_ms("0", "X"), 0ms);
  for (const char* bad : {"", "fast", "-5ms", "1.5s", "10min", "9999999999"}) {
    expect_error([&] { runtime::parse_duration_ms(bad, "HADES_MAX_QUEUE_DELAY"); },
                 ErrorCode::invalid_argument, {"HADES_MAX_QUEUE_DELAY"});
  }
  setenv("HADES_MAX_QUEUE_DELAY", "1s", 1);
  EXPECT_EQ(runtime::engine_config_from_environment().max_queue_delay, 1000ms);
  unsetenv("HADES_MAX_QUEUE_DELAY");
  EXPECT_EQ(runtime::engine_config_from_environment().max_queue_delay,
            runtime::EngineConfig{}.max_queue_delay);
}

TEST(EngineConfigTest, KeepAliveReadsDurationsAsOllamaWritesThem) {
  EXPECT_EQ(runtime::parse_keep_alive("5m", "x"), milliseconds(300'000));
  EXPECT_EQ(runtime::parse_keep_alive("30s", "x"), milliseconds(30'000));
  EXPECT_EQ(runtime::parse_keep_alive("1h", "x"), milliseconds(3'600'000));
  EXPECT_EQ(runtime::parse_keep_alive("250ms", "x"), milliseconds(250));
  EXPECT_EQ(runtime::parse_keep_alive("0", "x"), milliseconds(0));
  EXPECT_EQ(runtime::parse_keep_alive("12", "x"),
            milliseconds(12'000));                     // a bare number is seconds
  EXPECT_FALSE(runtime::parse_keep_alive("-1", "x"));  // forever
  for (const char* bad : {"", "-", "5d", "m", "-5m", "1.5s", "9999999999s"}) {
    expect_error([&] { runtime::parse_keep_alive(bad, "HADES_KEEP_ALIVE"); },
                 ErrorCode::invalid_argument, {"HADES_KEEP_ALIVE: '" + std::string(bad) + "'"});
  }
}

TEST(EngineConfigTest, DefaultDeviceFallsBackOrFailsClearly) {
  EXPECT_EQ(runtime::resolve_default_device("cpu").device, "cpu");
  EXPECT_EQ(runtime::resolve_default_device("cuda:1").device, "cpu");
  EXPECT_NE(runtime::resolve_default_device("cuda:1").note.find("cuda:1"), std::string::npos);
  expect_error([] { runtime::resolve_default_device("tpu"); }, ErrorCode::invalid_argument,
               {"HADES_DEFAULT_DEVICE"});
}

}  // namespace
}  // namespace hades
