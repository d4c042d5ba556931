// Tokenizer parity: every tokenizer under tests/data/tokenizer/<name>/ must give exactly what
// Hugging Face `tokenizers` gave (expected.json, from tools/fixtures/gen_tokenizer_fixtures.py) for
// every string and pair of corpus.json, and for the truncation / padding cases.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hades/error.hpp"
#include "support/paths.hpp"
#include "support/tokenizer_cases.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

using Json = nlohmann::json;
using hades::test::comparable;
using hades::test::outcome;
using hades::test::padding_from;
using hades::test::read_json;
using hades::test::truncation_from;

std::filesystem::path fixture_dir() {
  return hades::test::data_dir() / "tokenizer";
}

// The string with everything outside printable ASCII escaped, so that mismatches are readable.
std::string escape(std::string_view text) {
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    len = std::min(len, text.size() - i);
    uint32_t cp = len == 1 ? lead : lead & (0x7Fu >> len);
    for (size_t k = 1; k < len; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3Fu);
    if (cp >= 0x20 && cp < 0x7F && cp != '"' && cp != '\\') {
      out.push_back(static_cast<char>(cp));
    } else {
      char buffer[16];
      std::snprintf(buffer, sizeof buffer, cp > 0xFFFF ? "\\U%08X" : "\\u%04X", cp);
      out += buffer;
    }
    i += len;
  }
  return out + "\"";
}

Json to_json(const hades::Encoding& e) {
  Json offsets = Json::array();
  for (const auto& [start, end] : e.offsets) offsets.push_back({start, end});
  Json out = {{"ids", e.ids},
              {"type_ids", e.type_ids},
              {"tokens", e.tokens},
              {"offsets", offsets},
              {"attention_mask", e.attention_mask},
              {"special_tokens_mask", e.special_tokens_mask}};
  if (!e.overflowing.empty()) {
    Json overflowing = Json::array();
    for (const auto& o : e.overflowing) overflowing.push_back(to_json(o));
    out["overflowing"] = overflowing;
  }
  return out;
}

// Counts and reports mismatches of one section; the test requires none.
class Section {
 public:
  Section(std::string tokenizer, std::string name)
      : tokenizer_(std::move(tokenizer)), name_(std::move(name)) {}

  void check(const std::string& input, const Json& expected, const Json& actual) {
    ++total_;
    if (expected == actual) return;
    ++mismatches_;
    if (mismatches_ <= 5) {
      ADD_FAILURE() << tokenizer_ << " / " << name_ << ": mismatch for " << input
                    << "\n  expected: " << expected.dump(-1, ' ', true)
                    << "\n  actual:   " << actual.dump(-1, ' ', true);
    }
  }

  ~Section() {
    const double exact = total_ == 0 ? 100.0 : 100.0 * (total_ - mismatches_) / total_;
    std::printf("[parity] %-20s %-48s %5zu inputs, %6.2f%% exact\n", tokenizer_.c_str(),
                name_.c_str(), total_, exact);
    EXPECT_EQ(mismatches_, 0u) << tokenizer_ << " / " << name_;
  }

 private:
  std::string tokenizer_;
  std::string name_;
  size_t total_ = 0;
  size_t mismatches_ = 0;
};

std::string describe(const Json& input) {
  std::string out;
  for (const auto& part : input)
    out += (out.empty() ? "" : " + ") + escape(part.get<std::string>());
  return out;
}

// One truncation / padding case: options as recorded, then every input (or the batch).
void run_case(const std::string& name, const hades::Tokenizer& from_file, const Json& c) {
  Section section(name, c["name"].get<std::string>());
  hades::Tokenizer configured = from_file;
  if (!c.value("file_settings", false)) {
    configured.set_padding(padding_from(c["padding"]));
    bool setup_failed = false;
    try {
      configured.set_truncation(truncation_from(c["truncation"]));
    } catch (const hades::Error&) {
      setup_failed = true;
    }
    section.check("set_truncation", Json(c.contains("setup_error")), Json(setup_failed));
    if (setup_failed || c.contains("setup_error")) return;
  }
  const bool add_special = c["add_special_tokens"];
  if (c.value("batch", false)) {
    const std::vector<std::string> texts = c["inputs"];
    const Json actual = outcome([&] {
      Json list = Json::array();
      for (const auto& e : configured.encode_batch(texts, add_special)) list.push_back(to_json(e));
      return list;
    });
    section.check("batch of " + std::to_string(texts.size()), comparable(c["outputs"]),
                  comparable(actual));
    return;
  }
  for (size_t i = 0; i < c["inputs"].size(); ++i) {
    const Json& input = c["inputs"][i];
    const Json actual = outcome([&] {
      const std::string first = input[0];
      if (input.size() == 1) return to_json(configured.encode(first, add_special));
      return to_json(configured.encode_pair(first, input[1].get<std::string>(), add_special));
    });
    section.check(describe(input), comparable(c["outputs"][i]), comparable(actual));
  }
}

class TokenizerParity : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { corpus_ = read_json(fixture_dir() / "corpus.json"); }
  static Json corpus_;
};

Json TokenizerParity::corpus_;

TEST_P(TokenizerParity, MatchesHuggingFace) {
  const std::string name = GetParam();
  const auto folder = fixture_dir() / name;
  const Json expected = read_json(folder / "expected.json");
  const hades::Tokenizer from_file = hades::Tokenizer::from_file(folder / "tokenizer.json");
  // The corpus sections use the file's own pipeline with truncation and padding disabled.
  hades::Tokenizer tokenizer = from_file;
  tokenizer.set_truncation(std::nullopt);
  tokenizer.set_padding(std::nullopt);

  const auto& strings = corpus_["strings"];
  const auto& pairs = corpus_["pairs"];
  ASSERT_EQ(expected["singles"].size(), strings.size());
  ASSERT_EQ(expected["pairs"].size(), pairs.size());
  {
    Section section(name, "singles");
    for (size_t i = 0; i < strings.size(); ++i) {
      const std::string text = strings[i];
      section.check(escape(text), expected["singles"][i], to_json(tokenizer.encode(text)));
    }
  }
  {
    Section section(name, "pairs");
    for (size_t i = 0; i < pairs.size(); ++i) {
      const std::string a = pairs[i][0], b = pairs[i][1];
      section.check(describe(pairs[i]), expected["pairs"][i], to_json(tokenizer.encode_pair(a, b)));
    }
  }
  {
    Section section(name, "no_special_tokens");
    for (size_t i = 0; i < expected["no_special_tokens"].size(); ++i) {
      const std::string text = strings[i];
      section.check(escape(text), expected["no_special_tokens"][i],
                    to_json(tokenizer.encode(text, false)));
    }
  }
  for (const Json& c : expected["cases"]) run_case(name, from_file, c);
}

std::vector<std::string> tokenizer_names() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(fixture_dir())) {
    if (std::filesystem::exists(entry.path() / "expected.json")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& param_info) {
  std::string name = param_info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerParity, ::testing::ValuesIn(tokenizer_names()),
                         test_name);

// The committed copy of the MiniLM tokenizer is the real one.
TEST(TokenizerParityMiniLM, FixtureIsTheCachedModelsFile) {
  std::filesystem::path cached;
  try {
    cached = hades::test::minilm_dir() / "tokenizer.json";
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  std::ifstream a(cached, std::ios::binary),
      b(fixture_dir() / "bert-uncased" / "tokenizer.json", std::ios::binary);
  std::stringstream sa, sb;
  sa << a.rdbuf();
  sb << b.rdbuf();
  EXPECT_EQ(sa.str(), sb.str());
}

}  // namespace
