// The SentencePiece components of tokenizer.json, built by the factories of normalizers.cpp,
// pre_tokenizers.cpp, decoders.cpp and wordpiece.cpp (parse_model) from their JSON:
//   unigram.cpp      the Unigram model (tokenizers/src/models/unigram/model.rs)
//   precompiled.cpp  the Precompiled normalizer: SentencePiece's precompiled_charsmap, read as
//                    the spm_precompiled crate inside `tokenizers` reads it
//   metaspace.cpp    the Metaspace pre-tokenizer and decoder (pre_tokenizers/metaspace.rs)
#pragma once

#include <memory>
#include <string_view>

#include "tokenizer/decoders.hpp"
#include "tokenizer/json_util.hpp"
#include "tokenizer/model.hpp"
#include "tokenizer/normalizers.hpp"
#include "tokenizer/pre_tokenizers.hpp"

namespace hades::tok {

std::unique_ptr<Model> parse_unigram(const Json& value, const JsonPath& at);

// {"type": "Precompiled", "precompiled_charsmap": base64}.
std::unique_ptr<Normalizer> parse_precompiled(const Json& value, const JsonPath& at);
// The normalizer of a decoded charsmap blob; throws invalid_model (naming `at`) for a blob that
// is not a well-formed charsmap.
std::unique_ptr<Normalizer> make_precompiled(std::string_view charsmap, const JsonPath& at);

std::unique_ptr<PreTokenizer> parse_metaspace_pre_tokenizer(const Json& value, const JsonPath& at);
std::unique_ptr<Decoder> parse_metaspace_decoder(const Json& value, const JsonPath& at);

}  // namespace hades::tok
