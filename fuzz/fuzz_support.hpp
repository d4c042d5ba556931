// What every harness shares: the rule for what counts as a finding, and reading fixtures.
//
// A parser fed hostile bytes may only throw hades::Error with a code that names the input's fault.
// Anything else is a finding: a crash or sanitizer report (libFuzzer stops on it), any other
// exception escaping (std::terminate → abort, which libFuzzer reports as a crash), or
// ErrorCode::internal, which hades reserves for its own broken invariants.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "hades/error.hpp"

namespace hades::fuzz {

template <class Body>
void expect_only_input_errors(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::internal) {
      std::fprintf(stderr, "internal error on fuzz input: %s\n", e.what());
      std::abort();
    }
  }
}

// A fixture under tests/data, read whole at start-up (never per input).
inline std::string read_data_file(const std::string& relative) {
  const std::filesystem::path path = std::filesystem::path(HADES_TEST_DATA_DIR) / relative;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    std::fprintf(stderr, "cannot read fixture %s\n", path.c_str());
    std::abort();
  }
  return text.str();
}

}  // namespace hades::fuzz
