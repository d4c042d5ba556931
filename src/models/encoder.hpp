// The model contract: an encoder runs on a ragged batch and returns one hidden state per token.
//
// A ragged batch is the token ids of all sequences concatenated, with cumulative sequence lengths
// (cu_seqlens[0] = 0, sequence b owns tokens [cu_seqlens[b], cu_seqlens[b+1])). No padding is ever
// computed, and a sequence's output does not depend on the other sequences of its batch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compute/backend.hpp"

namespace hades {

struct RaggedBatch {
  std::span<const int32_t> ids;         // [tokens]
  std::span<const int32_t> type_ids;    // [tokens], or empty for all zeros
  std::span<const int32_t> cu_seqlens;  // [batch + 1]

  int64_t tokens() const { return static_cast<int64_t>(ids.size()); }
  int64_t sequences() const { return static_cast<int64_t>(cu_seqlens.size()) - 1; }
};

struct EncoderOutput {
  std::vector<float> hidden;  // [tokens, hidden_size], the last hidden state
  std::vector<float> pooled;  // [batch, hidden_size] from the model's own pooler, when asked for
};

class Encoder {
 public:
  virtual ~Encoder() = default;

  virtual std::string architecture() const = 0;
  virtual int64_t hidden_size() const = 0;
  // The longest sequence (special tokens included) the position embeddings allow.
  virtual int64_t max_sequence_length() const = 0;
  virtual bool has_pooler() const = 0;
  // Bytes of weights held after load, in the backend's layout.
  virtual uint64_t weight_bytes() const = 0;

  // Validates the batch (ids in the vocabulary, lengths within max_sequence_length) and runs it.
  virtual EncoderOutput forward(const RaggedBatch& batch, bool with_pooler = false) const = 0;
};

// Checks the invariants every encoder relies on; throws input_invalid naming the sequence at fault.
void validate_ragged_batch(const RaggedBatch& batch, int64_t max_sequence_length);

// out[i, :] += table[type_ids[i], :] over a [types, dim] table, type 0 for every token of a batch
// without type ids (single texts): the token type embeddings of BERT and the encoders after it.
void add_token_type_embeddings(const Backend& backend, const float* table, int64_t types,
                               int64_t dim, const RaggedBatch& batch, float* out);

// A run of whole sequences of a ragged batch. An encoder runs each layer over a batch one group at
// a time, so its activations (BERT: about 5 hidden widths per token) are held for one group, not
// for the whole batch: the largest memory of a pass beside the weights. The layer's weights stay
// in the cache from one group to the next.
struct SequenceGroup {
  int64_t first_token = 0;
  int64_t tokens = 0;
  std::vector<int32_t> cu_seqlens;  // rebased to start at 0
};

// The most tokens a group holds: 4 MB of activations per thread for MiniLM instead of 16 MB for a
// thread's half of a 4,096-token batch, and matmuls of 512 rows still run at the GEMM peak.
constexpr int64_t kMaxGroupTokens = 512;

// The sequences of CU_SEQLENS, in order, cut into groups of at most MAX_TOKENS tokens; a longer
// sequence is a group of its own.
std::vector<SequenceGroup> group_sequences(std::span<const int32_t> cu_seqlens,
                                           int64_t max_tokens = kMaxGroupTokens);

// The tokens of the largest of GROUPS (0 for none).
int64_t largest_group(const std::vector<SequenceGroup>& groups);

}  // namespace hades
