// Fuzzes the tokenizer.json loader (src/tokenizer/tokenizer.cpp and the component parsers it
// calls: normalizers (the Precompiled charsmap too), pre-tokenizers, WordPiece/BPE/Unigram models,
// added tokens, post-processors, decoders, truncation and padding). A file that loads must also
// encode and decode.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hades::fuzz::expect_only_input_errors([&] {
    const hades::Tokenizer tokenizer = hades::Tokenizer::from_json(text, "tokenizer.json");
    const hades::Encoding encoding = tokenizer.encode("Hello, World! ça va? 42 \u4e2d\u6587");
    (void)tokenizer.encode_pair("a question", "an answer");
    (void)tokenizer.decode(encoding.ids);
  });
  return 0;
}
