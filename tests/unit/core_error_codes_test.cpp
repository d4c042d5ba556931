// The error codes' one declaration (include/hades/error.hpp), and the documents that repeat it for
// readers: docs/protocol.md's table and docs/api/openapi.yaml's ErrorCode schema must list the
// same codes with the same statuses, so that a new code cannot be half added. (The Python client's
// classes are held to the declaration by tests/python/client/test_errors.py.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "hades/error.hpp"

namespace hades {
namespace {

const std::filesystem::path kSourceDir =
    std::filesystem::path(HADES_TEST_DATA_DIR).parent_path().parent_path();

std::string read_text(const std::filesystem::path& relative) {
  std::ifstream in(kSourceDir / relative);
  EXPECT_TRUE(in) << "cannot read " << relative;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text of TEXT from BEGIN to the next END after it; fails the test where either is missing.
std::string between(const std::string& text, const std::string& begin, const std::string& end) {
  const auto from = text.find(begin);
  EXPECT_NE(from, std::string::npos) << "'" << begin << "' not found";
  if (from == std::string::npos) return "";
  const auto to = text.find(end, from + begin.size());
  EXPECT_NE(to, std::string::npos) << "'" << end << "' not found after '" << begin << "'";
  return text.substr(from + begin.size(),
                     to == std::string::npos ? std::string::npos : to - from - begin.size());
}

// Code → status of every code the service can send.
std::map<std::string, int> declared_service_codes() {
  std::map<std::string, int> codes;
  for (const ErrorCodeInfo& info : kErrorCodes) {
    if (info.role != ErrorStatusRole::client_only) codes[std::string(info.name)] = info.http_status;
  }
  return codes;
}

TEST(ErrorCodes, EachEntryIsItsEnumeratorsAndEachNameAndStatusReadsBackOnce) {
  std::set<std::string_view> names;
  std::map<int, int> codes_standing_for_status;
  for (const ErrorCodeInfo& info : kErrorCodes) {
    EXPECT_EQ(&error_code_info(info.code), &info) << info.name;
    EXPECT_EQ(error_code_name(info.code), info.name);
    EXPECT_TRUE(names.insert(info.name).second) << "two codes named " << info.name;
    EXPECT_GE(info.http_status, 400) << info.name;
    EXPECT_LT(info.http_status, 600) << info.name;
    codes_standing_for_status[info.http_status] +=
        info.role == ErrorStatusRole::stands_for_status ? 1 : 0;
  }
  for (const auto& [status, count] : codes_standing_for_status) {
    EXPECT_EQ(count, 1) << "HTTP " << status << " must stand for exactly one code";
  }
  EXPECT_EQ(error_code_name(static_cast<ErrorCode>(std::size(kErrorCodes))), "internal");
}

TEST(ErrorCodes, TheProtocolsTableListsEachCodeWithItsStatus) {
  const std::string table = between(read_text("docs/protocol.md"), "## Errors", "\n## ");
  std::map<std::string, int> documented;
  const std::regex row(R"(^\|([^|]*)\|\s*(\d{3})\s*\|)", std::regex::multiline);
  const std::regex code("`([a-z_]+)`");
  for (std::sregex_iterator it(table.begin(), table.end(), row), end; it != end; ++it) {
    const std::string cell = (*it)[1];
    for (std::sregex_iterator c(cell.begin(), cell.end(), code); c != end; ++c) {
      documented[(*c)[1]] = std::stoi((*it)[2]);
    }
  }
  EXPECT_EQ(documented, declared_service_codes());
}

TEST(ErrorCodes, TheOpenApiSchemaListsEachCodeWithItsStatus) {
  const std::string schema =
      between(read_text("docs/api/openapi.yaml"), "\n    ErrorCode:\n", "\n    Error:\n");
  std::set<std::string> listed;
  const std::string values = between(schema, "enum: [", "]");
  const std::regex name("[a-z_]+");
  for (std::sregex_iterator it(values.begin(), values.end(), name), end; it != end; ++it) {
    listed.insert(it->str());
  }
  std::map<std::string, int> described;
  const std::string description = between(schema, "description: |", "type: string");
  const std::regex pair(R"(([a-z_]+) (\d{3}))");
  for (std::sregex_iterator it(description.begin(), description.end(), pair), end; it != end;
       ++it) {
    described[(*it)[1]] = std::stoi((*it)[2]);
  }
  const std::map<std::string, int> declared = declared_service_codes();
  std::set<std::string> declared_names;
  for (const auto& [code, status] : declared) declared_names.insert(code);
  EXPECT_EQ(listed, declared_names);
  EXPECT_EQ(described, declared);
}

}  // namespace
}  // namespace hades
