// A histogram as Prometheus keeps one: a count per bucket, the observations' sum and count. Not
// thread-safe: its owner guards it with the lock of the figures it belongs to.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace hades::runtime {

// The buckets' upper bounds (+Inf is implied), one set per kind of quantity.
// Request, queue and inference durations, in seconds.
inline constexpr std::array<double, 14> kDurationBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
// Model loads, downloads included, in seconds.
inline constexpr std::array<double, 11> kLoadDurationBuckets = {0.1, 0.25, 0.5, 1,   2.5, 5,
                                                                10,  30,   60,  120, 300};
// Sequences in one executor batch.
inline constexpr std::array<double, 12> kBatchSequenceBuckets = {1,  2,   4,   8,   16,   32,
                                                                 64, 128, 256, 512, 1024, 2048};
// Tokens in one executor batch.
inline constexpr std::array<double, 11> kBatchTokenBuckets = {16,   32,   64,   128,  256,  512,
                                                              1024, 2048, 4096, 8192, 16384};

class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds) : bounds_(bounds), counts_(bounds.size()) {}

  void observe(double value) {
    ++count_;
    sum_ += value;
    for (size_t b = 0; b < bounds_.size(); ++b) {
      if (value <= bounds_[b]) {
        ++counts_[b];
        return;
      }
    }
  }

  std::span<const double> bounds() const { return bounds_; }
  // Observations of at most bounds()[BUCKET] (Prometheus's cumulative `le` count).
  uint64_t count_at_most(size_t bucket) const {
    uint64_t total = 0;
    for (size_t b = 0; b <= bucket; ++b) total += counts_[b];
    return total;
  }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::span<const double> bounds_;  // static storage: one of the sets above
  std::vector<uint64_t> counts_;    // per bucket, not cumulative; above the last: count_ - Σ
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace hades::runtime
