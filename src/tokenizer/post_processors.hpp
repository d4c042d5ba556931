// Post-processors of tokenizer.json ("post_processor": {"type": ...}): add the special tokens
// and type ids around one or two encoded sequences, as in Hugging Face
// tokenizers/src/processors/{template,bert}.rs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/json_util.hpp"
#include "tokenizer/tokenizer.hpp"

namespace hades::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // The number of special tokens added to one sequence (false) or a pair (true).
  virtual size_t added_tokens(bool is_pair) const = 0;
  // Turns the (one or two) sequence encodings into the pieces to merge, in order.
  virtual std::vector<Encoding> process_encodings(std::vector<Encoding> encodings,
                                                  bool add_special_tokens) const = 0;
};

std::unique_ptr<PostProcessor> parse_post_processor(const Json& value, const JsonPath& at);

// A ["token", id] member `key` of `obj` (BertProcessing's and RobertaProcessing's sep / cls).
std::pair<std::string, int32_t> parse_token_pair(const Json& obj, const JsonPath& at,
                                                 std::string_view key);

// HF PostProcessor::process: type ids 0 / 1 per sequence, then the processor, then a merge.
// Without a processor, the sequences are just merged.
Encoding post_process(const PostProcessor* processor, Encoding first,
                      std::optional<Encoding> second, bool add_special_tokens);

}  // namespace hades::tok
