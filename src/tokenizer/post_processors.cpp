#include "tokenizer/post_processors.hpp"

#include <map>
#include <string>

#include "tokenizer/bpe_components.hpp"
#include "tokenizer/encoding_ops.hpp"

namespace hades::tok {
namespace {

Encoding special_encoding(const std::vector<int32_t>& ids, const std::vector<std::string>& tokens,
                          int32_t type_id) {
  Encoding e;
  e.ids = ids;
  e.tokens = tokens;
  e.type_ids.assign(ids.size(), type_id);
  e.offsets.assign(ids.size(), {0, 0});
  e.special_tokens_mask.assign(ids.size(), 1);
  e.attention_mask.assign(ids.size(), 1);
  return e;
}

class TemplateProcessing final : public PostProcessor {
 public:
  struct Piece {
    bool is_sequence;
    int sequence;         // 0 for A, 1 for B
    std::string special;  // the special token's name
    int32_t type_id;
  };
  struct SpecialToken {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
  };

  TemplateProcessing(std::vector<Piece> single, std::vector<Piece> pair,
                     std::map<std::string, SpecialToken> specials)
      : single_(std::move(single)), pair_(std::move(pair)), specials_(std::move(specials)) {}

  size_t added_tokens(bool is_pair) const override {
    size_t count = 0;
    for (const Piece& piece : is_pair ? pair_ : single_) {
      if (!piece.is_sequence) count += specials_.at(piece.special).ids.size();
    }
    return count;
  }

  std::vector<Encoding> process_encodings(std::vector<Encoding> encodings,
                                          bool add_special_tokens) const override {
    const auto& pieces = encodings.size() == 2 ? pair_ : single_;
    std::vector<Encoding> out;
    for (const Piece& piece : pieces) {
      if (piece.is_sequence) {
        // Only the main encoding takes the template's type id; overflowing windows keep 0 / 1.
        Encoding& e = encodings.at(static_cast<size_t>(piece.sequence));
        e.type_ids.assign(e.ids.size(), piece.type_id);
        out.push_back(e);
      } else if (add_special_tokens) {
        const SpecialToken& token = specials_.at(piece.special);
        out.push_back(special_encoding(token.ids, token.tokens, piece.type_id));
      }
    }
    return out;
  }

 private:
  std::vector<Piece> single_;
  std::vector<Piece> pair_;
  std::map<std::string, SpecialToken> specials_;
};

class BertProcessing final : public PostProcessor {
 public:
  BertProcessing(std::string sep, int32_t sep_id, std::string cls, int32_t cls_id)
      : sep_(std::move(sep)), cls_(std::move(cls)), sep_id_(sep_id), cls_id_(cls_id) {}

  size_t added_tokens(bool is_pair) const override { return is_pair ? 3 : 2; }

  std::vector<Encoding> process_encodings(std::vector<Encoding> encodings,
                                          bool add_special_tokens) const override {
    if (!add_special_tokens) return encodings;
    for (size_t i = 0; i < encodings.size(); ++i) {
      wrap(encodings[i], i == 0);
      for (Encoding& o : encodings[i].overflowing) wrap(o, i == 0);
    }
    return encodings;
  }

 private:
  // [CLS] first [SEP] (type 0), or second [SEP] (type 1).
  void wrap(Encoding& e, bool first) const {
    Encoding out = first ? special_encoding({cls_id_}, {cls_}, 0) : Encoding{};
    std::vector<Encoding> overflowing = std::move(e.overflowing);
    e.overflowing.clear();
    if (!first) e.type_ids.assign(e.ids.size(), 1);
    merge_with(out, e);
    merge_with(out, special_encoding({sep_id_}, {sep_}, first ? 0 : 1));
    out.overflowing = std::move(overflowing);
    e = std::move(out);
  }

  std::string sep_;
  std::string cls_;
  int32_t sep_id_;
  int32_t cls_id_;
};

TemplateProcessing::Piece parse_piece(const Json& value, const JsonPath& at) {
  require_object(value, at);
  if (value.size() == 1 && value.contains("Sequence")) {
    const JsonPath seq_at = at / "Sequence";
    const Json& seq = require_object(value["Sequence"], seq_at);
    const std::string id = get_string(seq, seq_at, "id");
    if (id != "A" && id != "B") (seq_at / "id").fail("expected \"A\" or \"B\", found '" + id + "'");
    return {true, id == "A" ? 0 : 1, {}, static_cast<int32_t>(get_uint(seq, seq_at, "type_id"))};
  }
  if (value.size() == 1 && value.contains("SpecialToken")) {
    const JsonPath sp_at = at / "SpecialToken";
    const Json& sp = require_object(value["SpecialToken"], sp_at);
    return {false, 0, get_string(sp, sp_at, "id"),
            static_cast<int32_t>(get_uint(sp, sp_at, "type_id"))};
  }
  at.fail("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
}

std::vector<TemplateProcessing::Piece> parse_template(
    const Json& obj, const JsonPath& at, std::string_view key,
    const std::map<std::string, TemplateProcessing::SpecialToken>& specials) {
  const JsonPath list_at = at / key;
  const Json& list = require_array(require(obj, at, key), list_at);
  std::vector<TemplateProcessing::Piece> pieces;
  for (size_t i = 0; i < list.size(); ++i) {
    pieces.push_back(parse_piece(list[i], list_at[i]));
    const auto& piece = pieces.back();
    if (!piece.is_sequence && !specials.contains(piece.special)) {
      list_at[i].fail("special token '" + piece.special + "' is not in special_tokens");
    }
    if (piece.is_sequence && piece.sequence == 1 && key == "single") {
      list_at[i].fail("the single-sequence template cannot use sequence B");
    }
  }
  return pieces;
}

std::unique_ptr<PostProcessor> parse_template_processing(const Json& value, const JsonPath& at) {
  const JsonPath sp_at = at / "special_tokens";
  const Json& sp = require_object(require(value, at, "special_tokens"), sp_at);
  std::map<std::string, TemplateProcessing::SpecialToken> specials;
  for (const auto& [name, token] : sp.items()) {
    const JsonPath t_at = sp_at / name;
    require_object(token, t_at);
    TemplateProcessing::SpecialToken special;
    const Json& ids = require_array(require(token, t_at, "ids"), t_at / "ids");
    for (size_t i = 0; i < ids.size(); ++i) {
      special.ids.push_back(static_cast<int32_t>(as_uint(ids[i], (t_at / "ids")[i], INT32_MAX)));
    }
    const Json& tokens = require_array(require(token, t_at, "tokens"), t_at / "tokens");
    for (size_t i = 0; i < tokens.size(); ++i) {
      special.tokens.push_back(as_string(tokens[i], (t_at / "tokens")[i]));
    }
    if (special.ids.size() != special.tokens.size()) {
      t_at.fail("ids and tokens must be of the same length");
    }
    specials.emplace(name, std::move(special));
  }
  auto single = parse_template(value, at, "single", specials);
  auto pair = parse_template(value, at, "pair", specials);
  return std::make_unique<TemplateProcessing>(std::move(single), std::move(pair),
                                              std::move(specials));
}

}  // namespace

std::pair<std::string, int32_t> parse_token_pair(const Json& obj, const JsonPath& at,
                                                 std::string_view key) {
  const JsonPath t_at = at / key;
  const Json& value = require_array(require(obj, at, key), t_at);
  if (value.size() != 2) t_at.fail("expected [token, id]");
  return {as_string(value[0], t_at[0]),
          static_cast<int32_t>(as_uint(value[1], t_at[1], INT32_MAX))};
}

std::unique_ptr<PostProcessor> parse_post_processor(const Json& value, const JsonPath& at) {
  const std::string type = get_type(value, at);
  if (type == "TemplateProcessing") return parse_template_processing(value, at);
  if (type == "BertProcessing") {
    auto [sep, sep_id] = parse_token_pair(value, at, "sep");
    auto [cls, cls_id] = parse_token_pair(value, at, "cls");
    return std::make_unique<BertProcessing>(std::move(sep), sep_id, std::move(cls), cls_id);
  }
  if (type == "ByteLevel") return parse_byte_level_processor(value, at);
  if (type == "RobertaProcessing") return parse_roberta_processing(value, at);
  if (type == "Sequence") {
    const JsonPath list_at = at / "processors";
    const Json& list = require_array(require(value, at, "processors"), list_at);
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      steps.push_back(parse_post_processor(list[i], list_at[i]));
    }
    return make_sequence_processor(std::move(steps));
  }
  (at / "type").fail("unknown post-processor '" + type + "'");
}

Encoding post_process(const PostProcessor* processor, Encoding first,
                      std::optional<Encoding> second, bool add_special_tokens) {
  std::vector<Encoding> encodings;
  first.type_ids.assign(first.ids.size(), 0);
  encodings.push_back(std::move(first));
  if (second) {
    second->type_ids.assign(second->ids.size(), 1);
    encodings.push_back(std::move(*second));
  }
  if (processor != nullptr) {
    encodings = processor->process_encodings(std::move(encodings), add_special_tokens);
  }
  if (encodings.size() == 1) return std::move(encodings[0]);
  return merge(encodings);
}

}  // namespace hades::tok
