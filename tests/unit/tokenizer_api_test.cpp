// The Tokenizer API beyond parity: vocabulary look-ups, input validation, options, threads.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "hades/error.hpp"
#include "support/paths.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

hades::Tokenizer minilm() {
  return hades::Tokenizer::from_file(hades::test::data_dir() / "tokenizer" / "bert-uncased" /
                                     "tokenizer.json");
}

TEST(TokenizerApi, ReadsTheFileSettings) {
  const auto tokenizer = minilm();
  ASSERT_TRUE(tokenizer.truncation().has_value());
  EXPECT_EQ(tokenizer.truncation()->max_length, 128u);
  ASSERT_TRUE(tokenizer.padding().has_value());
  EXPECT_EQ(tokenizer.padding()->strategy, hades::PaddingStrategy::fixed);
  EXPECT_EQ(tokenizer.padding()->fixed_length, 128u);
  EXPECT_EQ(tokenizer.encode("hello").size(), 128u);
}

TEST(TokenizerApi, VocabularyLookups) {
  const auto tokenizer = minilm();
  EXPECT_EQ(tokenizer.vocab_size(), 30522u);
  EXPECT_EQ(tokenizer.token_to_id("[CLS]"), 101);
  EXPECT_EQ(tokenizer.token_to_id("hello"), 7592);
  EXPECT_EQ(tokenizer.token_to_id("definitely-not-a-token"), std::nullopt);
  EXPECT_EQ(tokenizer.id_to_token(102), "[SEP]");
  EXPECT_EQ(tokenizer.id_to_token(7592), "hello");
  EXPECT_THROW(tokenizer.id_to_token(1'000'000), hades::Error);
  EXPECT_EQ(tokenizer.num_special_tokens_to_add(false), 2u);
  EXPECT_EQ(tokenizer.num_special_tokens_to_add(true), 3u);
}

TEST(TokenizerApi, RejectsInvalidUtf8) {
  auto tokenizer = minilm();
  for (const std::string& bad :
       {std::string("abc\xff"), std::string("\xc3"), std::string("\xed\xa0\x80"),
        std::string("\xc0\xaf"), std::string("\xf4\x90\x80\x80")}) {
    try {
      tokenizer.encode(bad);
      FAIL() << "no error";
    } catch (const hades::Error& e) {
      EXPECT_EQ(e.code(), hades::ErrorCode::input_invalid);
    }
    EXPECT_THROW(tokenizer.encode_pair("ok", bad), hades::Error);
  }
}

TEST(TokenizerApi, OptionsOverrideTheFile) {
  auto tokenizer = minilm();
  tokenizer.set_padding(std::nullopt);
  tokenizer.set_truncation(hades::TruncationOptions{.max_length = 5, .stride = 1});
  const auto e = tokenizer.encode("one two three four five six seven");
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[CLS]", "one", "two", "three", "[SEP]"}));
  ASSERT_EQ(e.overflowing.size(), 2u);
  EXPECT_EQ(e.overflowing[0].tokens,
            (std::vector<std::string>{"[CLS]", "three", "four", "five", "[SEP]"}));
  EXPECT_EQ(e.overflowing[1].tokens,
            (std::vector<std::string>{"[CLS]", "five", "six", "seven", "[SEP]"}));
  EXPECT_THROW(tokenizer.set_truncation(hades::TruncationOptions{.max_length = 4, .stride = 3}),
               hades::Error);
  // Accepted by the setter (as in HF), but no window can advance: an error at encode time.
  tokenizer.set_truncation(hades::TruncationOptions{.max_length = 4, .stride = 2});
  EXPECT_THROW(tokenizer.encode("one two three four"), hades::Error);
  EXPECT_EQ(tokenizer.encode("one").size(), 3u);

  tokenizer.set_truncation(std::nullopt);
  tokenizer.set_padding(hades::PaddingOptions{.pad_to_multiple_of = 4});
  const auto batch = tokenizer.encode_batch({"a", "a b c d e"});
  EXPECT_EQ(batch[0].size(), 8u);
  EXPECT_EQ(batch[1].size(), 8u);
  EXPECT_EQ(batch[0].attention_mask, (std::vector<int32_t>{1, 1, 1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(batch[0].special_tokens_mask, (std::vector<int32_t>{1, 0, 1, 1, 1, 1, 1, 1}));
}

TEST(TokenizerApi, OffsetsAreCodePointsOfTheOriginal) {
  auto tokenizer = minilm();
  tokenizer.set_padding(std::nullopt);
  const auto e = tokenizer.encode_pair("İstanbul café", "😀 ok");
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"[CLS]", "istanbul", "cafe", "[SEP]", "[UNK]", "ok",
                                                "[SEP]"}));
  using Offsets = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 8}, {9, 13}, {0, 0}, {0, 1}, {2, 4}, {0, 0}}));
  EXPECT_EQ(e.type_ids, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1}));
}

TEST(TokenizerApi, MovableAndCopyable) {
  auto tokenizer = minilm();
  hades::Tokenizer moved = std::move(tokenizer);
  hades::Tokenizer copy = moved;
  copy.set_padding(std::nullopt);
  EXPECT_EQ(moved.encode("hi").size(), 128u);
  EXPECT_EQ(copy.encode("hi").size(), 3u);
}

TEST(TokenizerApi, ConcurrentEncodesAgree) {
  auto tokenizer = minilm();
  tokenizer.set_padding(std::nullopt);
  const std::vector<std::string> texts = {"The café served crème brûlée.", "我爱自然语言处理",
                                          "Emoji 👨‍👩‍👧‍👦 and [MASK] tokens", "x"};
  std::vector<hades::Encoding> reference;
  for (const auto& t : texts) reference.push_back(tokenizer.encode(t));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        const size_t k = static_cast<size_t>(round + t) % texts.size();
        if (tokenizer.encode(texts[k]).ids != reference[k].ids) ++failures[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, (std::vector<int>{0, 0, 0, 0}));
}

}  // namespace
