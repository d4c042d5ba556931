// Asserts that a call throws hades::Error with a given code and a message holding every fragment.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "hades/error.hpp"

namespace hades::test {

template <typename Body>
void expect_error(Body body, ErrorCode code, std::initializer_list<std::string_view> fragments) {
  try {
    body();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), code) << message;
    for (const std::string_view fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "'" << fragment << "' not in: " << message;
    }
  }
}

}  // namespace hades::test
