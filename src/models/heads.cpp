#include "models/heads.hpp"

#include "hades/error.hpp"

namespace hades {

ClassificationHead::ClassificationHead(HeadSpec spec, const Backend& backend, int64_t hidden_size)
    : spec_(std::move(spec)), backend_(backend), hidden_size_(hidden_size) {
  if (!spec_.classifier)
    throw Error(ErrorCode::internal, "a classification head needs a classifier");
}

std::vector<float> ClassificationHead::logits(std::span<const float> hidden,
                                              const RaggedBatch& batch) const {
  const int64_t h = hidden_size_;
  std::vector<float> rows;
  int64_t count = 0;
  switch (spec_.pooling) {
    case HeadPooling::none:
      rows.assign(hidden.begin(), hidden.end());
      count = batch.tokens();
      break;
    case HeadPooling::first_token:
    case HeadPooling::mean:
      count = batch.sequences();
      rows.assign(static_cast<size_t>(count * h), 0.0f);
      for (int64_t b = 0; b < count; ++b) {
        const int64_t begin = batch.cu_seqlens[b];
        const int64_t end = batch.cu_seqlens[b + 1];
        if (spec_.pooling == HeadPooling::first_token || end - begin <= 1) {
          if (end > begin) std::copy_n(hidden.begin() + begin * h, h, rows.begin() + b * h);
          continue;
        }
        for (int64_t t = begin; t < end; ++t) {
          for (int64_t i = 0; i < h; ++i) rows[b * h + i] += hidden[t * h + i];
        }
        for (int64_t i = 0; i < h; ++i) rows[b * h + i] /= static_cast<float>(end - begin);
      }
      break;
  }
  if (spec_.dense) {
    std::vector<float> dense(rows.size());
    backend_.linear(*spec_.dense, rows.data(), count, dense.data(), spec_.dense_activation);
    rows.swap(dense);
  }
  if (spec_.norm) backend_.add_layer_norm(rows.data(), nullptr, count, h, spec_.norm->params());
  std::vector<float> out(static_cast<size_t>(count * num_labels()));
  backend_.linear(*spec_.classifier, rows.data(), count, out.data(), Activation::none);
  return out;
}

}  // namespace hades
