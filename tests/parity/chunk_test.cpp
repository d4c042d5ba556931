// Chunk parity: cut offsets identical to chonky's ParagraphSplitter (chonky 0.1.7 on a tiny random
// DistilBERT token classifier, tests/data/chunk/, made by tools/fixtures/gen_encoder_fixtures.py),
// on texts of many windows, ASCII and not; the chunks concatenate to the input exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "hades/error.hpp"
#include "models/classifier_model.hpp"
#include "support/paths.hpp"
#include "tokenizer/unicode.hpp"

namespace hades {
namespace {

struct ChunkReference {
  std::filesystem::path model;
  nlohmann::json cases;
};

ChunkReference read_reference(const std::string& file) {
  std::ifstream in(test::data_dir() / "chunk" / file);
  const nlohmann::json j = nlohmann::json::parse(in);
  const std::filesystem::path model =
      test::data_dir() / "models" /
      std::filesystem::path(j.at("model").get<std::string>()).filename();
  return {model, j.at("cases")};
}

void check_chunks_equal_chonky(const std::string& file) {
  const ChunkReference ref = read_reference(file);
  const auto model = ClassifierModel::load(ref.model);
  int multi_window = 0;
  for (const auto& c : ref.cases) {
    const std::string text = c.at("text").get<std::string>();
    const std::string name = c.at("name").get<std::string>();
    const runtime::ChunkedText got = model->chunk(text);
    std::vector<std::pair<int64_t, int64_t>> spans;
    std::string joined;
    for (const runtime::TextChunk& chunk : got.chunks) {
      spans.emplace_back(chunk.start, chunk.end);
      joined += chunk.text;
    }
    EXPECT_EQ(spans, (c.at("spans").get<std::vector<std::pair<int64_t, int64_t>>>())) << name;
    EXPECT_EQ(joined, text) << name;
    std::vector<std::string> texts;
    for (const runtime::TextChunk& chunk : got.chunks) texts.push_back(chunk.text);
    EXPECT_EQ(texts, c.at("chunks").get<std::vector<std::string>>()) << name;
    EXPECT_EQ(got.windows, c.at("window_count").get<int64_t>()) << name;
    if (got.windows > 3) ++multi_window;
  }
  EXPECT_GE(multi_window, 5);
}

TEST(ChunkParity, DistilBertCutsEqualChonky) {
  check_chunks_equal_chonky("reference.json");
}

// A ModernBERT token classifier with the byte-level BPE tokenizer, as the chonky ModernBERT models.
TEST(ChunkParity, ModernBertCutsEqualChonky) {
  check_chunks_equal_chonky("reference-modernbert.json");
}

// Snapping moves each faithful cut that falls inside a word to the word's end, merges cuts that
// meet, and changes nothing else.
TEST(ChunkOptions, SnappedCutsAreTheFaithfulCutsMovedOutOfWords) {
  const ChunkReference ref = read_reference("reference.json");
  const auto model = ClassifierModel::load(ref.model);
  int moved = 0;
  for (const auto& c : ref.cases) {
    const std::string text = c.at("text").get<std::string>();
    std::u32string decoded;
    for (size_t i = 0; i < text.size();) decoded.push_back(tok::next_code_point(text, i));
    const auto length = static_cast<int64_t>(decoded.size());
    std::vector<int64_t> expected;
    for (const runtime::TextChunk& chunk : model->chunk(text).chunks) {
      const int64_t cut = snap_to_whitespace(decoded, chunk.end);
      moved += cut != chunk.end ? 1 : 0;
      if (cut > 0 && cut < length && (expected.empty() || cut > expected.back())) {
        expected.push_back(cut);
      }
    }
    expected.push_back(length);
    const runtime::ChunkedText snapped = model->chunk(text, {.snap_to_whitespace = true});
    std::vector<int64_t> got;
    std::string joined;
    for (const runtime::TextChunk& chunk : snapped.chunks) {
      got.push_back(chunk.end);
      joined += chunk.text;
    }
    EXPECT_EQ(got, expected) << c.at("name").get<std::string>();
    EXPECT_EQ(joined, text);
  }
  EXPECT_GT(moved, 0) << "no case had a cut inside a word; the test shows nothing";
}

TEST(ChunkOptions, CleanChunksTheCleanedText) {
  const ChunkReference ref = read_reference("reference.json");
  const auto model = ClassifierModel::load(ref.model);
  const std::string text = ref.cases.at(0).at("text").get<std::string>();
  std::string messy;
  for (const char ch : text) messy += ch == ' ' ? std::string(" \n\t ") : std::string(1, ch);
  const runtime::ChunkedText plain = model->chunk(text);
  const runtime::ChunkedText cleaned =
      model->chunk("<p>" + messy + "</p>", {.clean = TextCleanup::html});
  ASSERT_EQ(cleaned.chunks.size(), plain.chunks.size());
  for (size_t i = 0; i < plain.chunks.size(); ++i) {
    EXPECT_EQ(cleaned.chunks[i].text, plain.chunks[i].text);
    EXPECT_EQ(cleaned.chunks[i].end, plain.chunks[i].end);
  }
  try {
    model->chunk("bad \xff", {.clean = TextCleanup::text});
    FAIL() << "invalid UTF-8 was cleaned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input_invalid);
  }
}

TEST(ChunkErrors, AModelWithoutATokenClassificationHeadIsRefused) {
  try {
    ClassifierModel::load(test::data_dir() / "models" / "tiny-distilbert-d32-h4-l2-gelu");
    FAIL() << "a base model loaded as a classifier";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported);
  }
}

// A sequence classifier asked for entities or chunks: the refusal names the task asked for.
TEST(ChunkErrors, ASequenceClassifierRefusesTokenClassificationAndChunkingByName) {
  const auto model =
      ClassifierModel::load(test::data_dir() / "models" / "tiny-bertcls-h32-a2-l2-seqcls");
  const auto refusal = [](const auto& call) -> std::string {
    try {
      call();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::unsupported);
      return e.what();
    }
    ADD_FAILURE() << "not refused";
    return "";
  };
  const std::string entities = refusal([&] { model->token_classify("some text"); });
  EXPECT_NE(entities.find("token classification needs one"), std::string::npos) << entities;
  EXPECT_EQ(entities.find("chunking"), std::string::npos) << entities;
  const std::string chunks = refusal([&] { model->chunk("some text"); });
  EXPECT_NE(chunks.find("chunking needs one"), std::string::npos) << chunks;
}

TEST(ChunkErrors, EmptyTextIsOneEmptyChunkAndBadUtf8IsAnInputError) {
  const ChunkReference ref = read_reference("reference.json");
  const auto model = ClassifierModel::load(ref.model);
  const runtime::ChunkedText empty = model->chunk("");
  ASSERT_EQ(empty.chunks.size(), 1u);
  EXPECT_EQ(empty.chunks[0].text, "");
  try {
    model->chunk("bad \xff\xfe bytes");
    FAIL() << "invalid UTF-8 was chunked";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input_invalid);
  }
  const runtime::ChunkedText specials = model->chunk("[CLS] [SEP] [PAD] [MASK] [UNK]");
  std::string joined;
  for (const runtime::TextChunk& c : specials.chunks) joined += c.text;
  EXPECT_EQ(joined, "[CLS] [SEP] [PAD] [MASK] [UNK]");
}

}  // namespace
}  // namespace hades
