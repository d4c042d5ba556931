// Byte-level BPE and Unigram parity: every tokenizer under tests/data/tokenizer/bpe/<name>/ and
// tests/data/tokenizer/unigram/<name>/ must give exactly what Hugging Face `tokenizers` gave
// (expected.json, from tools/fixtures/gen_bpe_fixtures.py and gen_unigram_fixtures.py):
// ids, type ids, special-token masks, offsets (and tokens where recorded) for the strings and pairs
// of corpus.json, overflowing windows with a stride over long texts, truncation / padding cases
// and decoding.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
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

std::filesystem::path tokenizer_dir() {
  return hades::test::data_dir() / "tokenizer";
}

// The string with everything outside printable ASCII escaped, so that mismatches are readable.
std::string escape(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", u);
      out += buffer;
    }
  }
  return out + "\"";
}

std::string digits(const std::vector<int32_t>& values) {
  std::string out;
  for (const int32_t v : values) out += std::to_string(v);
  return out;
}

// The compact form of gen_bpe_fixtures.py encoding_json.
Json to_json(const hades::Encoding& e, bool with_tokens) {
  Json offsets = Json::array();
  for (const auto& [start, end] : e.offsets) {
    offsets.push_back(start);
    offsets.push_back(end);
  }
  Json out = {{"ids", e.ids}, {"offsets", offsets}, {"special", digits(e.special_tokens_mask)}};
  if (std::any_of(e.type_ids.begin(), e.type_ids.end(), [](int32_t t) { return t != 0; })) {
    out["type_ids"] = digits(e.type_ids);
  }
  if (std::find(e.attention_mask.begin(), e.attention_mask.end(), 0) != e.attention_mask.end()) {
    out["attention"] = digits(e.attention_mask);
  }
  if (with_tokens) out["tokens"] = e.tokens;
  if (!e.overflowing.empty()) {
    Json overflowing = Json::array();
    for (const auto& o : e.overflowing) overflowing.push_back(to_json(o, with_tokens));
    out["overflowing"] = overflowing;
  }
  return out;
}

size_t count_windows(const Json& encoding) {
  if (!encoding.is_object() || !encoding.contains("ids")) return 0;
  return 1 + (encoding.contains("overflowing") ? encoding["overflowing"].size() : 0);
}

// Counts and reports mismatches of one section; the test requires none.
class Section {
 public:
  Section(std::string tokenizer, std::string name)
      : tokenizer_(std::move(tokenizer)), name_(std::move(name)) {}

  void check(const std::string& input, const Json& expected, const Json& actual) {
    ++total_;
    windows_ += count_windows(expected);
    if (expected == actual) return;
    ++mismatches_;
    if (mismatches_ <= 5) {
      ADD_FAILURE() << tokenizer_ << " / " << name_ << ": mismatch for " << input.substr(0, 300)
                    << "\n  expected: " << expected.dump(-1, ' ', true).substr(0, 1500)
                    << "\n  actual:   " << actual.dump(-1, ' ', true).substr(0, 1500);
    }
  }

  ~Section() {
    const double exact = total_ == 0 ? 100.0 : 100.0 * (total_ - mismatches_) / total_;
    // Windows: the encodings and their overflowing windows, where truncation made some.
    const std::string windows = windows_ > total_ ? std::to_string(windows_) + " windows" : "";
    std::printf("[parity] %-20s %-32s %5zu inputs %12s, %6.2f%% exact\n", tokenizer_.c_str(),
                name_.c_str(), total_, windows.c_str(), exact);
    EXPECT_EQ(mismatches_, 0u) << tokenizer_ << " / " << name_;
  }

 private:
  std::string tokenizer_;
  std::string name_;
  size_t total_ = 0;
  size_t windows_ = 0;
  size_t mismatches_ = 0;
};

std::string describe(const Json& input) {
  std::string out;
  for (const auto& part : input) {
    out += (out.empty() ? "" : " + ") + escape(part.get<std::string>());
  }
  return out;
}

void run_case(const std::string& name, const hades::Tokenizer& base, const Json& c) {
  Section section(name, c["name"].get<std::string>());
  hades::Tokenizer configured = base;
  configured.set_padding(padding_from(c["padding"]));
  bool setup_failed = false;
  try {
    configured.set_truncation(truncation_from(c["truncation"]));
  } catch (const hades::Error&) {
    setup_failed = true;
  }
  section.check("set_truncation", Json(c.contains("setup_error")), Json(setup_failed));
  if (setup_failed || c.contains("setup_error")) return;
  const bool add_special = c["add_special_tokens"];
  if (c.value("batch", false)) {
    const std::vector<std::string> texts = c["inputs"];
    const Json actual = outcome([&] {
      Json list = Json::array();
      for (const auto& e : configured.encode_batch(texts, add_special)) {
        list.push_back(to_json(e, false));
      }
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
      if (input.size() == 1) return to_json(configured.encode(first, add_special), false);
      return to_json(configured.encode_pair(first, input[1].get<std::string>(), add_special),
                     false);
    });
    section.check(describe(input), comparable(c["outputs"][i]), comparable(actual));
  }
}

void run_decode(const std::string& name, const hades::Tokenizer& tokenizer, const Json& cases) {
  Section section(name, "decode");
  for (const Json& c : cases) {
    const std::vector<int32_t> ids = c["ids"];
    const Json actual = outcome([&] { return Json(tokenizer.decode(ids, c["skip"])); });
    section.check(c["ids"].dump(), comparable(c["text"]), comparable(actual));
  }
}

class BpeParity : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { corpus_ = read_json(tokenizer_dir() / "corpus.json"); }
  static Json corpus_;
};

Json BpeParity::corpus_;

TEST_P(BpeParity, MatchesHuggingFace) {
  const std::string name = GetParam();
  const auto folder = tokenizer_dir() / name;
  const Json expected = read_json(folder / "expected.json");
  hades::Tokenizer tokenizer = hades::Tokenizer::from_file(folder / "tokenizer.json");
  tokenizer.set_truncation(std::nullopt);
  tokenizer.set_padding(std::nullopt);
  const auto& strings = corpus_["strings"];
  const auto& pairs = corpus_["pairs"];
  ASSERT_LE(expected["singles"].size(), strings.size());
  {
    Section section(name, "singles");
    for (size_t i = 0; i < expected["singles"].size(); ++i) {
      const std::string text = strings[i];
      section.check(escape(text), expected["singles"][i], to_json(tokenizer.encode(text), false));
    }
  }
  {
    Section section(name, "pairs");
    for (size_t i = 0; i < expected["pairs"].size(); ++i) {
      const std::string a = pairs[i][0], b = pairs[i][1];
      section.check(describe(pairs[i]), expected["pairs"][i],
                    to_json(tokenizer.encode_pair(a, b), false));
    }
  }
  {
    Section section(name, "no_special_tokens (with tokens)");
    for (size_t i = 0; i < expected["no_special_tokens"].size(); ++i) {
      const std::string text = strings[i];
      section.check(escape(text), expected["no_special_tokens"][i],
                    to_json(tokenizer.encode(text, false), true));
    }
  }
  if (expected.contains("graphemes")) {
    // Strings whose result hangs on the Precompiled normalizer's grapheme clusters.
    Section section(name, "graphemes (with tokens)");
    const Json& graphemes = expected["graphemes"];
    for (size_t i = 0; i < graphemes["strings"].size(); ++i) {
      const std::string text = graphemes["strings"][i];
      section.check(escape(text), graphemes["singles"][i],
                    to_json(tokenizer.encode(text, false), true));
    }
  }
  for (const Json& c : expected["cases"]) run_case(name, tokenizer, c);
  run_decode(name, tokenizer, expected["decode"]);
}

// "bpe/<name>" and "unigram/<name>".
std::vector<std::string> tokenizer_names() {
  std::vector<std::string> names;
  for (const char* model : {"bpe", "unigram"}) {
    for (const auto& entry : std::filesystem::directory_iterator(tokenizer_dir() / model)) {
      if (std::filesystem::exists(entry.path() / "expected.json")) {
        names.push_back(std::string(model) + "/" + entry.path().filename().string());
      }
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& param_info) {
  std::string name = param_info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  std::replace(name.begin(), name.end(), '/', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BpeParity, ::testing::ValuesIn(tokenizer_names()), test_name);

std::vector<std::string> corpus_strings() {
  return read_json(tokenizer_dir() / "corpus.json")["strings"];
}

// One tokenizer shared by several threads gives what it gives alone (the BPE cache is shared).
TEST(BpeThreads, ConcurrentEncodesMatchSequentialOnes) {
  const auto tokenizer =
      hades::Tokenizer::from_file(tokenizer_dir() / "bpe" / "modernbert" / "tokenizer.json");
  const auto texts = corpus_strings();
  std::vector<std::vector<int32_t>> expected;
  for (const auto& t : texts) expected.push_back(tokenizer.encode(t).ids);
  const auto fresh =
      hades::Tokenizer::from_file(tokenizer_dir() / "bpe" / "modernbert" / "tokenizer.json");
  std::vector<size_t> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t k = 0; k < mismatches.size(); ++k) {
    threads.emplace_back([&, k] {
      for (size_t round = 0; round < 3; ++round) {
        for (size_t i = (k * 131) % texts.size(), n = 0; n < texts.size();
             ++n, i = (i + 1) % texts.size()) {
          if (fresh.encode(texts[i]).ids != expected[i]) ++mismatches[k];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t k = 0; k < mismatches.size(); ++k) EXPECT_EQ(mismatches[k], 0u) << "thread " << k;
}

TEST(BpeModernBert, VocabularyAndSpecialTokens) {
  const auto tokenizer =
      hades::Tokenizer::from_file(tokenizer_dir() / "bpe" / "modernbert" / "tokenizer.json");
  EXPECT_EQ(tokenizer.vocab_size(), 50368u);
  EXPECT_EQ(tokenizer.token_to_id("[CLS]"), 50281);
  EXPECT_EQ(tokenizer.token_to_id("[SEP]"), 50282);
  EXPECT_EQ(tokenizer.token_to_id("[PAD]"), 50283);
  EXPECT_EQ(tokenizer.token_to_id("[MASK]"), 50284);
  EXPECT_EQ(tokenizer.token_to_id("[unused82]"), 50367);
  EXPECT_EQ(tokenizer.id_to_token(253), "\u0120the");
  EXPECT_EQ(tokenizer.num_special_tokens_to_add(false), 2u);
  EXPECT_EQ(tokenizer.num_special_tokens_to_add(true), 3u);
  const auto e = tokenizer.encode("Paris is the [MASK] of France.");
  // [MASK] takes the space on its left (lstrip): its token is " [MASK]", decoded as "[MASK]".
  EXPECT_EQ(e.tokens[4], " [MASK]");
  EXPECT_EQ(e.offsets[4], (std::pair<int64_t, int64_t>{12, 19}));
  EXPECT_EQ(tokenizer.decode(e.ids, false), "[CLS]Paris is the[MASK] of France.[SEP]");
  EXPECT_EQ(tokenizer.decode(e.ids), "Paris is the of France.");
}

// Inputs far longer than any token: the regexes stay within their match limits (no false
// "catastrophic backtracking" errors) and the text is covered.
TEST(BpeModernBert, HugeInputsStayWithinTheMatchLimits) {
  const auto tokenizer =
      hades::Tokenizer::from_file(tokenizer_dir() / "bpe" / "modernbert" / "tokenizer.json");
  std::string emoji;
  for (int i = 0; i < 50'000; ++i) emoji += "\U0001F600";
  std::string mixed;
  for (int i = 0; i < 20'000; ++i) mixed += "ab  12 \t\n\u4e2d\u00e9!? ";
  const auto code_points = [](const std::string& text) {
    return static_cast<int64_t>(std::count_if(text.begin(), text.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xC0u) != 0x80u;
    }));
  };
  for (const std::string& text :
       {std::string(1'000'000, ' '), std::string(1'000'000, '\t'), std::string(1'000'000, 'a'),
        std::string(500'000, '7'), std::string(300'000, '\n'), emoji, mixed}) {
    const auto e = tokenizer.encode(text, false);
    ASSERT_FALSE(e.ids.empty());
    EXPECT_EQ(e.offsets.back().second, code_points(text));
  }
}

// Throughput on the corpus and on the long texts, for the record (compare with `tokenizers` in
// Python on the same texts: tools/fixtures/gen_bpe_fixtures.py --speed).
TEST(BpeSpeed, Throughput) {
  const auto tokenizer =
      hades::Tokenizer::from_file(tokenizer_dir() / "bpe" / "modernbert" / "tokenizer.json");
  const auto measure = [&](const std::vector<std::string>& texts, int rounds) {
    size_t tokens = 0;
    for (const auto& t : texts) tokens += tokenizer.encode(t).size();  // warm the cache
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < rounds; ++r) {
      for (const auto& t : texts) tokens += tokenizer.encode(t).size();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    size_t chars = 0;
    for (const auto& t : texts) chars += t.size();
    std::printf("[speed] modernbert, %zu texts: %.0f texts/s, %.2f MB/s (one thread)\n",
                texts.size(), rounds * static_cast<double>(texts.size()) / seconds,
                rounds * static_cast<double>(chars) / seconds / 1e6);
    EXPECT_GT(tokens, 0u);
  };
  measure(corpus_strings(), 3);
  const std::vector<std::string> long_texts =
      read_json(tokenizer_dir() / "bpe" / "long_texts.json")["texts"];
  measure(long_texts, 20);
}

}  // namespace
