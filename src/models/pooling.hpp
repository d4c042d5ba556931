// Sentence embeddings from token embeddings, as sentence-transformers' Pooling and Normalize
// modules compute them (sentence_transformers/models/Pooling.py, Normalize.py), on ragged batches.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/sentence_transformers.hpp"

namespace hades {

// out[batch, modes.size() * dim]: for each sequence the modes' vectors concatenated in order.
//   cls: the first token; max: the element-wise maximum; mean: the average;
//   mean_sqrt_len: the sum divided by sqrt(length); weighted_mean: weights 1..length by position;
//   last_token: the last token.
std::vector<float> pool(std::span<const float> hidden, int64_t dim,
                        std::span<const int32_t> cu_seqlens, std::span<const PoolingMode> modes);

// Scales each row to unit L2 norm, with torch.nn.functional.normalize's eps of 1e-12.
void normalize_rows(std::span<float> rows, int64_t dim);

}  // namespace hades
