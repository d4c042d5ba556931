#include "tokenizer/unicode_normalization.hpp"

#include <algorithm>

namespace hades::tok {
namespace {

struct Decomposed {
  char32_t c;
  int32_t change;
  int ccc;
};

// Full decomposition followed by the canonical ordering of every run of non-starters (a stable
// sort by combining class, as the crate's buffer does between two starters).
void decompose_all(std::string_view text, bool compat, std::vector<Decomposed>& out) {
  out.clear();
  out.reserve(text.size());
  char32_t buffer[kMaxDecomposition];
  size_t i = 0;
  size_t run_start = 0;  // first non-starter of the pending run
  const auto flush_run = [&]() {
    if (out.size() - run_start > 1) {
      std::stable_sort(out.begin() + static_cast<ptrdiff_t>(run_start), out.end(),
                       [](const Decomposed& a, const Decomposed& b) { return a.ccc < b.ccc; });
    }
  };
  while (i < text.size()) {
    const char32_t c = next_code_point(text, i);
    const int n = decompose(c, compat, buffer);
    for (int k = 0; k < n; ++k) {
      const int ccc = combining_class(buffer[k]);
      if (ccc == 0) {
        flush_run();
        run_start = out.size() + 1;
      }
      out.push_back({buffer[k], k == 0 ? 0 : 1, ccc});
    }
  }
  flush_run();
}

// The crate's Recompositions iterator, run to completion.
class Recomposer {
 public:
  explicit Recomposer(std::vector<CharChange>& out) : out_(out) {}

  void feed(const Decomposed& d) {
    const CharChange ch{d.c, d.change};
    if (!composee_) {
      if (d.ccc != 0) {
        out_.push_back(ch);
      } else {
        composee_ = ch;
      }
      return;
    }
    if (last_ccc_ < 0) {
      if (auto r = compose(composee_->c, d.c)) {
        composee_ = CharChange{*r, composee_->change + d.change - 1};
        return;
      }
      if (d.ccc == 0) {
        out_.push_back(*composee_);
        composee_ = ch;
        return;
      }
      buffer_.push_back(ch);
      last_ccc_ = d.ccc;
      return;
    }
    if (last_ccc_ >= d.ccc) {
      // Blocked from the composee.
      if (d.ccc == 0) {
        out_.push_back(*composee_);
        out_.insert(out_.end(), buffer_.begin(), buffer_.end());
        buffer_.clear();
        composee_ = ch;
        last_ccc_ = -1;
        return;
      }
      buffer_.push_back(ch);
      last_ccc_ = d.ccc;
      return;
    }
    if (auto r = compose(composee_->c, d.c)) {
      composee_ = CharChange{*r, composee_->change + d.change - 1};
      return;
    }
    buffer_.push_back(ch);
    last_ccc_ = d.ccc;
  }

  void finish() {
    if (composee_) {
      // The crate emits the composee first, then the buffered marks.
      out_.push_back(*composee_);
      composee_.reset();
    }
    out_.insert(out_.end(), buffer_.begin(), buffer_.end());
    buffer_.clear();
  }

 private:
  std::vector<CharChange>& out_;
  std::optional<CharChange> composee_;
  std::vector<CharChange> buffer_;
  int last_ccc_ = -1;
};

}  // namespace

void normalize_with_changes(std::string_view text, NormalizationForm form,
                            std::vector<CharChange>& out) {
  const bool compat = form == NormalizationForm::nfkd || form == NormalizationForm::nfkc;
  std::vector<Decomposed> decomposed;
  decompose_all(text, compat, decomposed);
  out.clear();
  out.reserve(decomposed.size());
  if (form == NormalizationForm::nfd || form == NormalizationForm::nfkd) {
    for (const auto& d : decomposed) out.push_back({d.c, d.change});
    return;
  }
  Recomposer recomposer(out);
  for (const auto& d : decomposed) recomposer.feed(d);
  recomposer.finish();
}

}  // namespace hades::tok
