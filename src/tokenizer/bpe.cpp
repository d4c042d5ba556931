// BPE, as in Hugging Face tokenizers/src/models/bpe/{model,word}.rs: a word starts as one symbol
// per character (with continuing_subword_prefix / end_of_word_suffix, byte_fallback and the unknown
// token as configured), then the adjacent pair of lowest merge rank is merged, leftmost first,
// until no pair is in the merges. Results are cached per word; dropout is ignored (inference).
#include <algorithm>
#include <array>
#include <cstdio>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "tokenizer/bpe_components.hpp"

namespace hades::tok {
namespace {

struct MergeInfo {
  uint32_t rank;
  int32_t new_id;
};

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  uint32_t len;  // bytes of the word; 0 once merged into its left neighbour
};

// One piece of a tokenized word: the token id and how many bytes of the word it covers.
struct Piece {
  int32_t id;
  uint32_t len;
};

// A word -> pieces cache shared by all threads; sharded so that readers rarely meet. Like HF's, it
// stops growing at its capacity and only holds words shorter than 256 bytes.
class WordCache {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kCapacity = 10'000;
  static constexpr size_t kMaxWordBytes = 256;

  bool find(std::string_view word, std::vector<Piece>& out) const {
    const Shard& shard = shard_of(word);
    std::shared_lock lock(shard.mutex);
    const auto it = shard.map.find(word);
    if (it == shard.map.end()) return false;
    out = it->second;
    return true;
  }

  void insert(std::string_view word, const std::vector<Piece>& pieces) {
    if (word.size() >= kMaxWordBytes) return;
    Shard& shard = shard_of(word);
    std::unique_lock lock(shard.mutex);
    if (shard.map.size() >= kCapacity / kShards) return;
    shard.map.try_emplace(std::string(word), pieces);
  }

 private:
  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, std::vector<Piece>, StringHash, std::equal_to<>> map;
  };
  Shard& shard_of(std::string_view word) { return shards_[StringHash{}(word) % kShards]; }
  const Shard& shard_of(std::string_view word) const {
    return shards_[StringHash{}(word) % kShards];
  }

  std::array<Shard, kShards> shards_;
};

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string prefix;  // continuing_subword_prefix ("" when null)
  std::string suffix;  // end_of_word_suffix ("" when null)
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class Bpe final : public Model {
 public:
  Bpe(Vocab vocab, std::unordered_map<uint64_t, MergeInfo> merges, BpeOptions options)
      : vocab_(std::move(vocab)), merges_(std::move(merges)), options_(std::move(options)) {
    int32_t max_id = -1;
    for (const auto& entry : vocab_) max_id = std::max(max_id, entry.second);
    // Dense ids (the usual case) index a vector; sparse ones a map.
    if (static_cast<size_t>(max_id) < 4 * vocab_.size() + 1024) {
      dense_.resize(static_cast<size_t>(max_id) + 1);
      for (const auto& [token, id] : vocab_) dense_[static_cast<size_t>(id)] = &token;
    } else {
      for (const auto& [token, id] : vocab_) sparse_.emplace(id, &token);
    }
    if (options_.unk_token) {
      if (const auto it = vocab_.find(*options_.unk_token); it != vocab_.end())
        unk_id_ = it->second;
    }
    byte_ids_ = byte_token_ids(vocab_);
  }

  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    if (word.empty()) return;
    if (options_.ignore_merges) {
      if (const auto it = vocab_.find(word); it != vocab_.end()) {
        out.push_back({it->second, std::string(word), {0, word.size()}});
        return;
      }
    }
    thread_local std::vector<Piece> pieces;
    if (!cache_.find(word, pieces)) {
      merge_word(word, pieces);
      cache_.insert(word, pieces);
    }
    size_t pos = 0;
    for (const Piece& piece : pieces) {
      out.push_back({piece.id, *token_of(piece.id), {pos, pos + piece.len}});
      pos += piece.len;
    }
  }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    const auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<std::string> id_to_token(int32_t id) const override {
    if (const std::string* token = token_of(id)) return *token;
    return std::nullopt;
  }

  size_t vocab_size() const override { return vocab_.size(); }

 private:
  const std::string* token_of(int32_t id) const {
    if (!dense_.empty() || sparse_.empty()) {
      return id >= 0 && static_cast<size_t>(id) < dense_.size() ? dense_[static_cast<size_t>(id)]
                                                                : nullptr;
    }
    const auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : it->second;
  }

  void merge_word(std::string_view word, std::vector<Piece>& pieces) const;
  void initial_symbols(std::string_view word, std::vector<Symbol>& symbols) const;
  void merge_all(std::vector<Symbol>& symbols) const;

  int32_t unk_id() const {
    if (!unk_id_) {
      throw Error(ErrorCode::invalid_model,
                  "BPE: the unknown token '" + *options_.unk_token + "' is not in the vocabulary");
    }
    return *unk_id_;
  }

  Vocab vocab_;
  std::unordered_map<uint64_t, MergeInfo> merges_;
  BpeOptions options_;
  std::vector<const std::string*> dense_;
  std::unordered_map<int32_t, const std::string*> sparse_;
  std::optional<int32_t> unk_id_;
  std::array<int32_t, 256> byte_ids_{};
  mutable WordCache cache_;
};

void add_symbol(std::vector<Symbol>& symbols, int32_t id, size_t len) {
  const auto n = static_cast<int32_t>(symbols.size());
  if (n > 0) symbols.back().next = n;
  symbols.push_back({id, n - 1, -1, static_cast<uint32_t>(len)});
}

// HF BPE::merge_word up to merge_all: one symbol per character, byte tokens or the unknown token
// (fused or not) for characters out of the vocabulary.
void Bpe::initial_symbols(std::string_view word, std::vector<Symbol>& symbols) const {
  thread_local std::string piece;
  // The pending unknown token and its byte length (unk_len 0: none).
  int32_t unk = 0;
  size_t unk_len = 0;
  size_t i = 0;
  while (i < word.size()) {
    const size_t start = i;
    next_code_point(word, i);
    const size_t byte_len = i - start;
    piece.clear();
    if (start > 0) piece += options_.prefix;
    piece.append(word.substr(start, byte_len));
    if (i == word.size()) piece += options_.suffix;
    if (const auto it = vocab_.find(std::string_view(piece)); it != vocab_.end()) {
      if (unk_len > 0) add_symbol(symbols, unk, unk_len);
      unk_len = 0;
      add_symbol(symbols, it->second, byte_len);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (const char b : piece) all = all && byte_ids_[static_cast<unsigned char>(b)] >= 0;
      if (all) {
        // As HF: one symbol of length 1 per byte of the piece (prefix and suffix included), and a
        // pending unknown token stays pending.
        for (const char b : piece) add_symbol(symbols, byte_ids_[static_cast<unsigned char>(b)], 1);
        continue;
      }
    }
    if (!options_.unk_token) continue;  // no unknown token: the character is dropped
    if (unk_len > 0 && options_.fuse_unk) {
      unk_len += byte_len;
    } else {
      if (unk_len > 0) add_symbol(symbols, unk, unk_len);
      unk = unk_id();
      unk_len = byte_len;
    }
  }
  if (unk_len > 0) add_symbol(symbols, unk, unk_len);
}

// HF Word::merge_all without dropout: a min-heap of candidate merges by (rank, position); stale
// entries (their pair changed since) are skipped.
void Bpe::merge_all(std::vector<Symbol>& symbols) const {
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  thread_local std::vector<Candidate> queue;  // a min-heap through std::greater
  queue.clear();
  const auto push_pair = [&](int32_t pos, int32_t a, int32_t b) {
    const auto it = merges_.find(pair_key(a, b));
    if (it == merges_.end()) return;
    queue.push_back({it->second.rank, pos, it->second.new_id});
    std::push_heap(queue.begin(), queue.end(), std::greater<>{});
  };
  for (size_t k = 0; k + 1 < symbols.size(); ++k) {
    push_pair(static_cast<int32_t>(k), symbols[k].id, symbols[k + 1].id);
  }
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), std::greater<>{});
    const Candidate top = queue.back();
    queue.pop_back();
    Symbol& current = symbols[static_cast<size_t>(top.pos)];
    if (current.len == 0 || current.next == -1) continue;
    const Symbol right = symbols[static_cast<size_t>(current.next)];
    const auto it = merges_.find(pair_key(current.id, right.id));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    symbols[static_cast<size_t>(current.next)].len = 0;
    current.id = top.new_id;
    current.len += right.len;
    current.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    if (current.prev >= 0) {
      push_pair(current.prev, symbols[static_cast<size_t>(current.prev)].id, current.id);
    }
    if (current.next >= 0) {
      push_pair(top.pos, current.id, symbols[static_cast<size_t>(current.next)].id);
    }
  }
}

void Bpe::merge_word(std::string_view word, std::vector<Piece>& pieces) const {
  thread_local std::vector<Symbol> symbols;
  symbols.clear();
  initial_symbols(word, symbols);
  merge_all(symbols);
  pieces.clear();
  for (const Symbol& s : symbols) {
    if (s.len != 0) pieces.push_back({s.id, s.len});
  }
}

// One merge: "a b" (HF's legacy form) or ["a", "b"].
std::pair<std::string, std::string> parse_merge(const Json& value, const JsonPath& at) {
  if (value.is_string()) {
    const std::string line = value.get<std::string>();
    const size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
      at.fail("expected \"a b\" (two tokens separated by one space), found '" + line + "'");
    }
    return {line.substr(0, space), line.substr(space + 1)};
  }
  if (value.is_array() && value.size() == 2) {
    return {as_string(value[0], at[0]), as_string(value[1], at[1])};
  }
  at.fail(std::string("expected \"a b\" or [\"a\", \"b\"], found ") + value.type_name());
}

std::unordered_map<uint64_t, MergeInfo> parse_merges(const Json& value, const JsonPath& at,
                                                     const Vocab& vocab, size_t prefix_len) {
  require_array(value, at);
  // As HF, all merges take the same form.
  for (size_t i = 1; i < value.size(); ++i) {
    if (value[i].is_string() != value[0].is_string()) {
      at[i].fail("mixes \"a b\" strings and [\"a\", \"b\"] pairs");
    }
  }
  std::unordered_map<uint64_t, MergeInfo> merges;
  merges.reserve(value.size());
  uint32_t rank = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    // HF's legacy reader skips a "#version" header line.
    if (value[i].is_string() && value[i].get_ref<const std::string&>().starts_with("#version")) {
      continue;
    }
    const JsonPath m_at = at[i];
    const auto [a, b] = parse_merge(value[i], m_at);
    const auto id_of = [&](const std::string& token) {
      const auto it = vocab.find(token);
      if (it == vocab.end()) m_at.fail("token '" + token + "' is not in the vocabulary");
      return it->second;
    };
    const int32_t a_id = id_of(a);
    const int32_t b_id = id_of(b);
    if (b.size() < prefix_len) {
      m_at.fail("token '" + b + "' is shorter than the continuing_subword_prefix");
    }
    const int32_t new_id = id_of(a + b.substr(prefix_len));
    merges.insert_or_assign(pair_key(a_id, b_id), MergeInfo{rank++, new_id});  // the last wins
  }
  return merges;
}

std::optional<std::string> optional_string(const Json& value, const JsonPath& at,
                                           std::string_view key) {
  const Json* v = find_optional(value, key);
  if (v == nullptr) return std::nullopt;
  return as_string(*v, at / key);
}

bool optional_flag(const Json& value, const JsonPath& at, std::string_view key) {
  const Json* v = find_optional(value, key);
  return v != nullptr && as_bool(*v, at / key);
}

}  // namespace

std::unique_ptr<Model> parse_bpe(const Json& value, const VocabEntries* vocab_entries,
                                 const JsonPath& at) {
  if (const Json* dropout = find_optional(value, "dropout")) {
    if (!dropout->is_number() || dropout->get<double>() < 0.0 || dropout->get<double>() > 1.0) {
      (at / "dropout").fail("expected a number between 0 and 1 (or null)");
    }
  }
  BpeOptions options;
  options.unk_token = optional_string(value, at, "unk_token");
  options.prefix = optional_string(value, at, "continuing_subword_prefix").value_or("");
  options.suffix = optional_string(value, at, "end_of_word_suffix").value_or("");
  options.fuse_unk = optional_flag(value, at, "fuse_unk");
  options.byte_fallback = optional_flag(value, at, "byte_fallback");
  options.ignore_merges = optional_flag(value, at, "ignore_merges");
  Vocab vocab = parse_vocab(require(value, at, "vocab"), vocab_entries, at / "vocab");
  auto merges =
      parse_merges(require(value, at, "merges"), at / "merges", vocab, options.prefix.size());
  return std::make_unique<Bpe>(std::move(vocab), std::move(merges), std::move(options));
}

}  // namespace hades::tok
