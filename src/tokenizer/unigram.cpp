// Unigram, as in Hugging Face tokenizers/src/models/unigram/model.rs (encode_optimized): the
// segmentation of a word that maximises the sum of its pieces' scores (Viterbi over byte
// positions), every vocabulary piece a candidate, a character that no one-character piece covers
// becomes the unknown piece (scored min_score - 10), and adjacent unknown pieces are fused.
// Pieces that are not in the vocabulary after fusing become byte tokens with byte_fallback, else
// the unknown id.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include "tokenizer/sentencepiece.hpp"

namespace hades::tok {
namespace {

// The score HF gives an unknown character below the lowest piece score (K_UNK_PENALTY).
constexpr double kUnknownPenalty = 10.0;

// A byte trie of the pieces, flattened: node k's children are edges_[first[k], first[k+1]).
class PieceTrie {
 public:
  // `pieces` holds each piece with the id HF finds for it (the last of duplicates).
  void build(const std::vector<std::pair<std::string_view, int32_t>>& pieces) {
    struct BuildNode {
      std::vector<std::pair<uint8_t, uint32_t>> children;
      int32_t id = -1;
    };
    std::vector<BuildNode> nodes(1);
    for (const auto& [piece, id] : pieces) {
      uint32_t node = 0;
      for (const char ch : piece) {
        const auto label = static_cast<uint8_t>(ch);
        auto& children = nodes[node].children;
        auto it = std::find_if(children.begin(), children.end(),
                               [&](const auto& edge) { return edge.first == label; });
        if (it == children.end()) {
          children.emplace_back(label, static_cast<uint32_t>(nodes.size()));
          const uint32_t child = children.back().second;
          nodes.emplace_back();
          node = child;
        } else {
          node = it->second;
        }
      }
      nodes[node].id = id;
    }
    first_.reserve(nodes.size() + 1);
    ids_.reserve(nodes.size());
    for (BuildNode& n : nodes) {
      first_.push_back(static_cast<uint32_t>(edges_.size()));
      ids_.push_back(n.id);
      std::sort(n.children.begin(), n.children.end());
      edges_.insert(edges_.end(), n.children.begin(), n.children.end());
      n.children = {};
    }
    first_.push_back(static_cast<uint32_t>(edges_.size()));
  }

  // Calls found(end, id) for every piece that is a prefix of text[start..], shortest first (the
  // empty piece never matches, as in HF's trie).
  template <typename Found>
  void common_prefixes(std::string_view text, size_t start, Found found) const {
    uint32_t node = 0;
    for (size_t i = start; i < text.size(); ++i) {
      const auto label = static_cast<uint8_t>(text[i]);
      const auto begin = edges_.begin() + first_[node];
      const auto end = edges_.begin() + first_[node + 1];
      const auto it = std::lower_bound(begin, end, label,
                                       [](const auto& edge, uint8_t l) { return edge.first < l; });
      if (it == end || it->first != label) return;
      node = it->second;
      if (ids_[node] >= 0) found(i + 1, ids_[node]);
    }
  }

 private:
  std::vector<uint32_t> first_;
  std::vector<int32_t> ids_;
  std::vector<std::pair<uint8_t, uint32_t>> edges_;
};

class Unigram final : public Model {
 public:
  Unigram(std::vector<std::pair<std::string, double>> pieces, std::optional<int32_t> unk_id,
          bool byte_fallback)
      : pieces_(std::move(pieces)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
    min_score_ = std::numeric_limits<double>::infinity();
    for (size_t id = 0; id < pieces_.size(); ++id) {
      vocab_.insert_or_assign(pieces_[id].first, static_cast<int32_t>(id));
      min_score_ = std::min(min_score_, pieces_[id].second);
    }
    std::vector<std::pair<std::string_view, int32_t>> entries;
    entries.reserve(vocab_.size());
    for (const auto& [piece, id] : vocab_) entries.emplace_back(piece, id);
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    trie_.build(entries);
    byte_ids_ = byte_token_ids(vocab_);
  }

  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    size_t offset = 0;
    for (const ByteRange& piece : segment(word)) {
      const size_t len = piece.second - piece.first;
      std::string value(word.substr(piece.first, len));
      const ByteRange offsets{offset, offset + len};
      offset += len;
      if (const auto it = vocab_.find(value); it != vocab_.end()) {
        out.push_back({it->second, std::move(value), offsets});
        continue;
      }
      if (byte_fallback_ && append_bytes(value, offsets, out)) continue;
      if (!unk_id_) throw_missing_unk();
      out.push_back({*unk_id_, std::move(value), offsets});
    }
  }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    const auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<std::string> id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return std::nullopt;
    return pieces_[static_cast<size_t>(id)].first;
  }

  size_t vocab_size() const override { return pieces_.size(); }

 private:
  struct BestPath {
    int32_t id = 0;
    double score = 0.0;
    int64_t starts_at = -1;  // -1: no path ends here yet
  };

  [[noreturn]] static void throw_missing_unk() {
    throw Error(ErrorCode::invalid_model,
                "Unigram: the text has a character that no piece covers, and the model has no "
                "unk_id");
  }

  // HF Unigram::encode_optimized: the best path's pieces (byte ranges of `word`), unknown runs
  // fused.
  std::vector<ByteRange> segment(std::string_view word) const {
    std::vector<BestPath> best(word.size() + 1);
    const double unk_score = min_score_ - kUnknownPenalty;
    size_t start = 0;
    while (start < word.size()) {
      const double till_here = best[start].score;
      size_t next = start;
      next_code_point(word, next);
      const size_t char_len = next - start;
      bool has_single = false;
      trie_.common_prefixes(word, start, [&](size_t end, int32_t id) {
        relax(best[end], start, id, pieces_[static_cast<size_t>(id)].second + till_here);
        has_single = has_single || end - start == char_len;
      });
      if (!has_single) {
        BestPath& target = best[next];
        const double candidate = unk_score + till_here;
        if (target.starts_at < 0 || candidate > target.score) {
          if (!unk_id_) throw_missing_unk();
          relax(target, start, *unk_id_, candidate);
        }
      }
      start = next;
    }
    std::vector<ByteRange> pieces;
    size_t end = word.size();
    size_t unknown_end = 0;  // the end of the unknown run being fused; 0: none (ends are > 0)
    while (end > 0) {
      const BestPath& node = best[end];
      const auto begin = static_cast<size_t>(node.starts_at);
      if (unk_id_ && node.id == *unk_id_) {
        if (unknown_end == 0) unknown_end = end;
      } else {
        if (unknown_end != 0) pieces.emplace_back(end, unknown_end);
        unknown_end = 0;
        pieces.emplace_back(begin, end);
      }
      end = begin;
    }
    if (unknown_end != 0) pieces.emplace_back(0, unknown_end);
    std::reverse(pieces.begin(), pieces.end());
    return pieces;
  }

  static void relax(BestPath& target, size_t start, int32_t id, double candidate) {
    if (target.starts_at < 0 || candidate > target.score) {
      target = {id, candidate, static_cast<int64_t>(start)};
    }
  }

  // One <0xHH> token per byte, each with the whole piece's offsets; false (nothing appended)
  // when a byte has no token.
  bool append_bytes(std::string_view piece, ByteRange offsets, std::vector<Token>& out) const {
    for (const char b : piece) {
      if (byte_ids_[static_cast<unsigned char>(b)] < 0) return false;
    }
    for (const char b : piece) {
      const int32_t id = byte_ids_[static_cast<unsigned char>(b)];
      out.push_back({id, pieces_[static_cast<size_t>(id)].first, offsets});
    }
    return true;
  }

  std::vector<std::pair<std::string, double>> pieces_;
  Vocab vocab_;
  PieceTrie trie_;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_;
  double min_score_;
  std::array<int32_t, 256> byte_ids_{};
};

std::vector<std::pair<std::string, double>> parse_pieces(const Json& value, const JsonPath& at) {
  require_array(value, at);
  std::vector<std::pair<std::string, double>> pieces;
  pieces.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const Json& entry = value[i];
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number()) {
      at[i].fail("expected [piece, score]");
    }
    const double score = entry[1].get<double>();
    if (!std::isfinite(score)) at[i].fail("the score is not a finite number");
    pieces.emplace_back(entry[0].get<std::string>(), score);
  }
  return pieces;
}

}  // namespace

std::unique_ptr<Model> parse_unigram(const Json& value, const JsonPath& at) {
  auto pieces = parse_pieces(require(value, at, "vocab"), at / "vocab");
  if (pieces.size() > static_cast<size_t>(INT32_MAX)) (at / "vocab").fail("too many pieces");
  std::optional<int32_t> unk_id;
  if (const Json* v = find_optional(value, "unk_id")) {
    unk_id = static_cast<int32_t>(as_uint(*v, at / "unk_id", INT32_MAX));
    if (pieces.empty()) (at / "vocab").fail("the vocabulary is empty but unk_id is set");
    if (static_cast<size_t>(*unk_id) >= pieces.size()) {
      (at / "unk_id")
          .fail("unk_id " + std::to_string(*unk_id) + " is not below the " +
                std::to_string(pieces.size()) + " pieces");
    }
  }
  bool byte_fallback = false;
  if (const Json* v = find_optional(value, "byte_fallback")) {
    byte_fallback = as_bool(*v, at / "byte_fallback");
  }
  return std::make_unique<Unigram>(std::move(pieces), unk_id, byte_fallback);
}

}  // namespace hades::tok
