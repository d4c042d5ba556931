// Fuzzes SentencePiece's precompiled_charsmap as the Precompiled normalizer reads and applies it
// (src/tokenizer/precompiled.cpp): the input is [u16 little-endian text length][text][blob].
// The blob comes raw, not base64, so that mutations reach the trie's units and the normalized
// strings; a blob that loads must normalize the text or refuse it with an Error, never read
// outside itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "tokenizer/normalized_string.hpp"
#include "tokenizer/sentencepiece.hpp"
#include "tokenizer/unicode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t text_size = data[0] | (static_cast<std::size_t>(data[1]) << 8);
  if (size - 2 < text_size) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::string_view text = input.substr(0, text_size);
  // Normalizers only ever see valid UTF-8 (Tokenizer::encode refuses the rest first).
  if (hades::tok::find_invalid_utf8(text)) return 0;
  hades::fuzz::expect_only_input_errors([&] {
    const hades::tok::JsonPath at("tokenizer.json", "normalizer.precompiled_charsmap");
    const auto normalizer = hades::tok::make_precompiled(input.substr(text_size), at);
    hades::tok::NormalizedString normalized(text);
    normalizer->normalize(normalized);
  });
  return 0;
}
