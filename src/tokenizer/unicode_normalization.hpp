// Unicode normalization forms that also report, per output character, how it relates to the input
// (the `change` of CharChange), so that NormalizedString can keep its alignments.
//
// A port of the `unicode-normalization-alignments` crate that Hugging Face tokenizers uses: the
// decomposition marks the first character of each decomposition as replacing (0) and the others
// as inserted (1), and canonical reordering moves those marks with their characters; composition
// adds up the changes of what it combines, minus one. Character data comes from unicode.hpp.
#pragma once

#include <string_view>
#include <vector>

#include "tokenizer/normalized_string.hpp"

namespace hades::tok {

void normalize_with_changes(std::string_view text, NormalizationForm form,
                            std::vector<CharChange>& out);

}  // namespace hades::tok
