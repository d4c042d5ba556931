// Decoders of tokenizer.json ("decoder": {"type": ...}): tokens back to text, as in Hugging Face
// tokenizers/src/decoders/. Supported: ByteLevel, WordPiece, BPEDecoder, ByteFallback, Fuse, Strip,
// Replace, Metaspace (metaspace.cpp), Sequence. CTC loads, and decoding with it is
// Error(unsupported), so that a tokenizer is usable for encoding whatever its decoder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_util.hpp"

namespace hades::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // HF decode_chain: rewrites the list of token strings.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<Decoder> parse_decoder(const Json& value, const JsonPath& at);

// The text of `tokens`: the decoder's chain joined, or the tokens joined by spaces without one.
std::string decode_tokens(const Decoder* decoder, std::vector<std::string> tokens);

}  // namespace hades::tok
