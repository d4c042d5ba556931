// `hades embed|tokenize|classify MODEL -` with more input than one request holds: the verbs cut
// stdin into requests within the service's limits (texts per request, body bytes) and print the
// results in input order, in the form one request would have printed them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client_support.hpp"
#include "hades/engine.hpp"

namespace hades {
namespace {

using test::kMiniLmId;
using test::ServiceSandbox;

const std::string kClassifier =
    std::string(HADES_TEST_DATA_DIR) + "/models/tiny-bertcls-h32-a2-l2-seqcls";

// COUNT distinct lines of varied lengths (up to MAX_WORDS words more).
std::vector<std::string> numbered_lines(size_t count, size_t max_words) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < count; ++i) {
    std::string line = "line " + std::to_string(i) + " says";
    for (size_t word = 0; word < i % (max_words + 1); ++word) {
      line += " word" + std::to_string(word * i % 97);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return out;
}

// Whether CLIENT's service answers /health within a minute of its start.
bool serving_soon(ModelClient& client) {
  for (int attempt = 0; attempt < 3000; ++attempt) {
    try {
      if (client.health().healthy) return true;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::connection_refused) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class ClientCliBatches : public ::testing::Test {
 protected:
  void SetUp() override { test::use_test_hf_cache(); }

  test::RunResult cli(std::vector<std::string> args, const std::string& input,
                      const ServiceSandbox& sandbox) {
    args.push_back("--socket");
    args.push_back(sandbox.socket());
    return test::run_hades(args, sandbox, input);
  }

  ServiceSandbox sandbox_;
};

TEST_F(ClientCliBatches, TenThousandLinesGiveTenThousandEmbeddingsInOrder) {
  HaystackModelEngine engine(sandbox_.options());
  engine.start();
  const std::vector<std::string> lines = numbered_lines(10'000, 3);
  const test::RunResult r = cli({"embed", kMiniLmId, "-", "--jsonl"}, joined(lines), sandbox_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<nlohmann::json> rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), lines.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_TRUE(rows[i].is_object()) << "line " << i;
    ASSERT_EQ(rows[i]["index"], i);
    ASSERT_EQ(rows[i]["embedding"].size(), 384u) << "line " << i;
  }
  // Rows from the first, a middle and the last request (1,024 texts each) are the embeddings of
  // their lines alone.
  for (const size_t i : {size_t{0}, size_t{1023}, size_t{1024}, size_t{5000}, size_t{9999}}) {
    const EmbeddingResult alone = engine.embed(kMiniLmId, {lines[i]});
    EXPECT_LE(
        test::max_abs_diff(rows[i]["embedding"].get<std::vector<float>>(), alone.embeddings.at(0)),
        1e-5f)
        << "line " << i;
  }
  // A request holds 1,024 texts at most.
  EXPECT_GE(std::stoll(engine.status().stats.at("requests")), 10);
}

// A service whose requests hold 4 texts and 4 KiB: every form of output is the one a single
// request to a service with the default limits gives.
TEST_F(ClientCliBatches, SmallLimitsGiveTheOutputOfOneRequest) {
  HaystackModelEngine engine(sandbox_.options());
  engine.start();
  ServiceSandbox small;
  test::HadesProcess serving(
      {"serve", "--socket", small.socket(), "--max-inputs", "4", "--max-body", "4KiB", "--quiet"},
      small.dir());
  ModelClient small_client(small.options());
  ASSERT_TRUE(serving_soon(small_client)) << small.log();

  std::vector<std::string> lines = numbered_lines(37, 22);
  lines[20] = std::string(2500, 'x');  // alone in its request: most of a 4 KiB body
  const std::string input = joined(lines);
  // Tokenization is exact: the same bytes in every form.
  for (const std::string form : {"--json", "--jsonl", ""}) {  // "": the table
    std::vector<std::string> args = {"tokenize", kMiniLmId, "-"};
    if (!form.empty()) args.push_back(form);
    const test::RunResult one = cli(args, input, sandbox_);
    const test::RunResult many = cli(args, input, small);
    ASSERT_EQ(one.exit_code, 0) << one.err;
    ASSERT_EQ(many.exit_code, 0) << many.err;
    EXPECT_EQ(many.out, one.out) << form;
  }
  EXPECT_GE(std::stoll(small_client.status().stats.at("requests")), 10);

  // Classification: the same labels in the same order, scores to float tolerance (batches of
  // other sizes round differently).
  const nlohmann::json one_json =
      nlohmann::json::parse(cli({"classify", kClassifier, "-", "--json"}, input, sandbox_).out);
  const test::RunResult many_json = cli({"classify", kClassifier, "-", "--json"}, input, small);
  ASSERT_EQ(many_json.exit_code, 0) << many_json.err;
  const nlohmann::json many_results = nlohmann::json::parse(many_json.out)["results"];
  const std::vector<nlohmann::json> many_lines =
      json_lines(cli({"classify", kClassifier, "-", "--jsonl"}, input, small).out);
  const std::string many_table = cli({"classify", kClassifier, "-"}, input, small).out;
  ASSERT_EQ(many_results.size(), lines.size());
  ASSERT_EQ(many_lines.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json& expected = one_json["results"][i];
    EXPECT_EQ(many_results[i]["label"], expected["label"]) << i;
    EXPECT_NEAR(many_results[i]["score"].get<double>(), expected["score"].get<double>(), 1e-5);
    EXPECT_EQ(many_lines[i]["index"], i);
    EXPECT_EQ(many_lines[i]["label"], expected["label"]) << i;
    const std::string row =
        "[" + std::to_string(i + 1) + "] " + expected["label"].get<std::string>();
    EXPECT_NE(many_table.find(row), std::string::npos) << row << " in\n" << many_table;
  }

  // Embeddings: the same rows in the same order (to float tolerance: batches differ).
  const test::RunResult one = cli({"embed", kMiniLmId, "-", "--json"}, input, sandbox_);
  const test::RunResult many = cli({"embed", kMiniLmId, "-", "--json"}, input, small);
  ASSERT_EQ(many.exit_code, 0) << many.err;
  const nlohmann::json a = nlohmann::json::parse(one.out), b = nlohmann::json::parse(many.out);
  EXPECT_EQ(b["model"], a["model"]);
  EXPECT_EQ(b["dimension"], a["dimension"]);
  EXPECT_EQ(b["usage"], a["usage"]);
  ASSERT_EQ(b["embeddings"].size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_LE(test::max_abs_diff(a["embeddings"][i].get<std::vector<float>>(),
                                 b["embeddings"][i].get<std::vector<float>>()),
              1e-5f)
        << "line " << i;
  }

  // A line over the body limit cannot be sent in any request: a clear error, nothing printed.
  const test::RunResult too_long =
      cli({"embed", kMiniLmId, "-"}, "short\n" + std::string(5000, 'y') + "\n", small);
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_NE(too_long.err.find("line 2 of stdin is over 4096 bytes"), std::string::npos)
      << too_long.err;
}

}  // namespace
}  // namespace hades
