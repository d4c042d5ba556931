// The chunk options' text steps: clean_text against chonky's MarkupRemover steps run with
// BeautifulSoup + lxml (tests/data/chunk/cleanup.json, tools/fixtures/gen_cleanup_fixtures.py), and
// snap_to_whitespace on hand-made cuts.
#include "models/chunk_text.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/paths.hpp"

namespace hades {
namespace {

TEST(CleanText, EqualsChonkysMarkupRemoverSteps) {
  std::ifstream in(test::data_dir() / "chunk" / "cleanup.json");
  const nlohmann::json reference = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& c : reference.at("cases")) {
    const auto kind = parse_text_cleanup(c.at("kind").get<std::string>());
    ASSERT_TRUE(kind.has_value()) << c.at("kind");
    EXPECT_EQ(clean_text(c.at("input").get<std::string>(), *kind),
              c.at("expected").get<std::string>())
        << c.at("kind").get<std::string>() << " case " << c.at("name").get<std::string>();
    ++checked;
  }
  EXPECT_GE(checked, 19);
}

TEST(CleanText, NoneKeepsTheTextAndNamesRoundTrip) {
  EXPECT_EQ(clean_text(" a\n\nb ", TextCleanup::none), " a\n\nb ");
  for (const char* name : {"none", "text", "html", "xml"}) {
    const auto parsed = parse_text_cleanup(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_STREQ(text_cleanup_name(*parsed), name);
  }
  EXPECT_FALSE(parse_text_cleanup("markdown").has_value());
}

TEST(CleanText, UnterminatedMarkupEndsTheDocumentWithoutReadingPastIt) {
  EXPECT_EQ(clean_text("a<!-- never closed", TextCleanup::html), "a");
  EXPECT_EQ(clean_text("a<![CDATA[tail é", TextCleanup::xml), "atail é");
  EXPECT_EQ(clean_text("a<script>x", TextCleanup::html), "a");
  EXPECT_EQ(clean_text("a<b title='x", TextCleanup::html), "a");
  EXPECT_EQ(clean_text("&#99999999999999999999; &#; &", TextCleanup::html), "\uFFFD &#; &");
}

TEST(SnapToWhitespace, MovesCutsInsideAWordToItsEnd) {
  const std::u32string text = U"One two. Three\u00a0four";
  EXPECT_EQ(snap_to_whitespace(text, 7), 8);    // "two|." → "two.|"
  EXPECT_EQ(snap_to_whitespace(text, 8), 8);    // already before a space
  EXPECT_EQ(snap_to_whitespace(text, 9), 9);    // already after a space
  EXPECT_EQ(snap_to_whitespace(text, 10), 14);  // inside "Three", up to the no-break space
  EXPECT_EQ(snap_to_whitespace(text, 16), 19);  // inside the last word: the end
  EXPECT_EQ(snap_to_whitespace(text, 0), 0);
  EXPECT_EQ(snap_to_whitespace(text, 19), 19);
  EXPECT_EQ(snap_to_whitespace(text, 40), 19);
}

// Each CJK ideograph is a word: a cut between two stays, one before punctuation moves past it, one
// after an ideograph stays, and a cut inside a Latin word stops at the next ideograph.
TEST(SnapToWhitespace, ACjkIdeographIsAWordOfItsOwn) {
  const std::u32string text = U"\u4eca\u5929\u3002\u660e\u5929abc\u4e0b\u96e8";
  EXPECT_EQ(snap_to_whitespace(text, 1), 1);  // between two ideographs
  EXPECT_EQ(snap_to_whitespace(text, 2), 3);  // before the full stop: after it
  EXPECT_EQ(snap_to_whitespace(text, 3), 3);  // after the full stop, before an ideograph
  EXPECT_EQ(snap_to_whitespace(text, 5), 5);  // ideograph | Latin word
  EXPECT_EQ(snap_to_whitespace(text, 4), 4);  // between two ideographs
  EXPECT_EQ(snap_to_whitespace(text, 6), 8);  // inside "abc": before the next ideograph
  EXPECT_EQ(snap_to_whitespace(text, 9), 9);
}

}  // namespace
}  // namespace hades
