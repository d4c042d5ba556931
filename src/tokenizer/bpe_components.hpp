// The byte-level BPE components of tokenizer.json, built by the factories of normalizers.cpp,
// pre_tokenizers.cpp, post_processors.cpp and wordpiece.cpp (parse_model) from their JSON:
//   byte_level.cpp        ByteLevel pre-tokenizer and normalizer
//   split.cpp             Split pre-tokenizer, Replace normalizer with a regex
//   bpe.cpp               the BPE model
//   post_processors_bpe.cpp  ByteLevel, RobertaProcessing and Sequence post-processors
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_util.hpp"
#include "tokenizer/model.hpp"
#include "tokenizer/normalizers.hpp"
#include "tokenizer/post_processors.hpp"
#include "tokenizer/pre_tokenizers.hpp"

namespace hades::tok {

std::unique_ptr<PreTokenizer> parse_byte_level_pre_tokenizer(const Json& value, const JsonPath& at);
std::unique_ptr<PreTokenizer> parse_split_pre_tokenizer(const Json& value, const JsonPath& at);

std::unique_ptr<Normalizer> make_byte_level_normalizer();
// Replace with {"Regex": pattern} (a plain {"String": ...} stays in normalizers.cpp).
std::unique_ptr<Normalizer> make_regex_replace(const std::string& pattern, std::string content,
                                               const JsonPath& at);

std::unique_ptr<Model> parse_bpe(const Json& value, const VocabEntries* vocab_entries,
                                 const JsonPath& at);

std::unique_ptr<PostProcessor> parse_byte_level_processor(const Json& value, const JsonPath& at);
std::unique_ptr<PostProcessor> parse_roberta_processing(const Json& value, const JsonPath& at);
std::unique_ptr<PostProcessor> make_sequence_processor(
    std::vector<std::unique_ptr<PostProcessor>> steps);

}  // namespace hades::tok
