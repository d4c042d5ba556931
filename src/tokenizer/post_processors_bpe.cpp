// The post-processors that come with byte-level BPE tokenizers, as in Hugging Face
// tokenizers/src/processors/{roberta,sequence}.rs and pre_tokenizers/byte_level.rs.
#include <string>
#include <utility>

#include "tokenizer/bpe_components.hpp"
#include "tokenizer/byte_level.hpp"

namespace hades::tok {
namespace {

void trim_with_overflowing(Encoding& e, bool add_prefix_space) {
  trim_byte_level_offsets(e, add_prefix_space);
  for (Encoding& o : e.overflowing) trim_byte_level_offsets(o, add_prefix_space);
}

bool flag(const Json& value, const JsonPath& at, std::string_view key, bool fallback) {
  const Json* v = find_optional(value, key);
  return v != nullptr ? as_bool(*v, at / key) : fallback;
}

// ByteLevel as a post-processor only trims the offsets (when trim_offsets is set).
class ByteLevelProcessor final : public PostProcessor {
 public:
  ByteLevelProcessor(bool add_prefix_space, bool trim_offsets)
      : add_prefix_space_(add_prefix_space), trim_offsets_(trim_offsets) {}

  size_t added_tokens(bool) const override { return 0; }

  std::vector<Encoding> process_encodings(std::vector<Encoding> encodings, bool) const override {
    if (trim_offsets_) {
      for (Encoding& e : encodings) trim_with_overflowing(e, add_prefix_space_);
    }
    return encodings;
  }

 private:
  bool add_prefix_space_;
  bool trim_offsets_;
};

// <s> A </s> and </s> B </s>, every type id 0, offsets trimmed as ByteLevel does.
class RobertaProcessing final : public PostProcessor {
 public:
  RobertaProcessing(std::pair<std::string, int32_t> sep, std::pair<std::string, int32_t> cls,
                    bool trim_offsets, bool add_prefix_space)
      : sep_(std::move(sep)),
        cls_(std::move(cls)),
        trim_offsets_(trim_offsets),
        add_prefix_space_(add_prefix_space) {}

  size_t added_tokens(bool is_pair) const override { return is_pair ? 4 : 2; }

  std::vector<Encoding> process_encodings(std::vector<Encoding> encodings,
                                          bool add_special_tokens) const override {
    if (trim_offsets_) {
      for (Encoding& e : encodings) trim_with_overflowing(e, add_prefix_space_);
    }
    // Only the main encodings: the overflowing windows keep their type ids until wrapped.
    for (Encoding& e : encodings) e.type_ids.assign(e.ids.size(), 0);
    if (!add_special_tokens) return encodings;
    for (size_t i = 0; i < encodings.size(); ++i) {
      const auto& first = i == 0 ? cls_ : sep_;
      std::vector<Encoding> overflowing = std::move(encodings[i].overflowing);
      encodings[i] = wrap(encodings[i], first);
      for (Encoding& o : overflowing) o = wrap(o, first);
      encodings[i].overflowing = std::move(overflowing);
    }
    return encodings;
  }

 private:
  Encoding wrap(const Encoding& e, const std::pair<std::string, int32_t>& first) const {
    Encoding out;
    const size_t n = e.ids.size();
    out.ids.reserve(n + 2);
    out.ids.push_back(first.second);
    out.ids.insert(out.ids.end(), e.ids.begin(), e.ids.end());
    out.ids.push_back(sep_.second);
    out.tokens.push_back(first.first);
    out.tokens.insert(out.tokens.end(), e.tokens.begin(), e.tokens.end());
    out.tokens.push_back(sep_.first);
    out.offsets.emplace_back(0, 0);
    out.offsets.insert(out.offsets.end(), e.offsets.begin(), e.offsets.end());
    out.offsets.emplace_back(0, 0);
    out.type_ids.assign(n + 2, 0);
    out.special_tokens_mask.assign(n + 2, 0);
    out.special_tokens_mask.front() = 1;
    out.special_tokens_mask.back() = 1;
    out.attention_mask.assign(n + 2, 1);
    return out;
  }

  std::pair<std::string, int32_t> sep_;
  std::pair<std::string, int32_t> cls_;
  bool trim_offsets_;
  bool add_prefix_space_;
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}

  size_t added_tokens(bool is_pair) const override {
    size_t count = 0;
    for (const auto& step : steps_) count += step->added_tokens(is_pair);
    return count;
  }

  std::vector<Encoding> process_encodings(std::vector<Encoding> encodings,
                                          bool add_special_tokens) const override {
    for (const auto& step : steps_) {
      encodings = step->process_encodings(std::move(encodings), add_special_tokens);
    }
    return encodings;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

}  // namespace

std::unique_ptr<PostProcessor> parse_byte_level_processor(const Json& value, const JsonPath& at) {
  return std::make_unique<ByteLevelProcessor>(flag(value, at, "add_prefix_space", true),
                                              flag(value, at, "trim_offsets", true));
}

std::unique_ptr<PostProcessor> parse_roberta_processing(const Json& value, const JsonPath& at) {
  return std::make_unique<RobertaProcessing>(
      parse_token_pair(value, at, "sep"), parse_token_pair(value, at, "cls"),
      flag(value, at, "trim_offsets", true), flag(value, at, "add_prefix_space", true));
}

std::unique_ptr<PostProcessor> make_sequence_processor(
    std::vector<std::unique_ptr<PostProcessor>> steps) {
  return std::make_unique<SequenceProcessor>(std::move(steps));
}

}  // namespace hades::tok
