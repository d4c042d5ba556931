// Fuzzes tokenization of arbitrary bytes with every fixture tokenizer of tests/data/tokenizer
// (WordPiece, byte-level BPE, BPE with byte fallback and Unigram, their normalizers and
// pre-tokenizers, truncation with overflowing windows, pairs). The first byte picks the tokenizer
// and the mode; the rest is the text, which need not be UTF-8 (the tokenizer must refuse it with
// input_invalid, never read past it).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

const std::vector<hades::Tokenizer>& tokenizers() {
  static const std::vector<hades::Tokenizer> all = [] {
    std::vector<hades::Tokenizer> loaded;
    for (const char* name :
         {"bert-cased", "bert-nochinese", "bert-uncased", "nfc-prepend-nopost",
          "nfkc-replace-digits", "seq-nfd-whitespace", "bpe/modernbert", "bpe/olmo",
          "bpe/synthetic-affix", "bpe/synthetic-split", "bpe/gemma", "bpe/gemma-legacy",
          "unigram/xlmr", "unigram/spm-first", "unigram/spm-never", "unigram/spm-rules"}) {
      const std::string file = std::string("tokenizer/") + name + "/tokenizer.json";
      loaded.push_back(hades::Tokenizer::from_json(hades::fuzz::read_data_file(file), file));
    }
    return loaded;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& all = tokenizers();
  const unsigned selector = data[0];
  hades::Tokenizer tokenizer = all[selector % all.size()];
  const unsigned mode = selector / all.size();  // 0..15
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  hades::fuzz::expect_only_input_errors([&] {
    if (mode % 2 == 1) {
      // Short windows with a stride: many overflowing encodings from one text.
      tokenizer.set_truncation(hades::TruncationOptions{.max_length = 8 + mode, .stride = 2});
    }
    if (mode % 4 >= 2) {
      const std::string_view first = text.substr(0, text.size() / 2);
      const std::string_view second = text.substr(text.size() / 2);
      (void)tokenizer.encode_pair(first, second);
    } else {
      const hades::Encoding encoding = tokenizer.encode(text, mode % 8 < 4);
      (void)tokenizer.decode(encoding.ids, mode % 16 < 8);
    }
  });
  return 0;
}
