// Memory for a forward pass's activations, reused from one pass to the next.
//
// A forward pass needs megabytes of activations (BERT: about 5 hidden widths per token), dead when
// it returns. Allocated per pass, they cost a zeroing (std::vector) and page faults in every pass:
// glibc hands large blocks back to the kernel when they are freed (by unmapping them, or by
// trimming the top of a heap), and the next pass faults fresh pages in again, which is slow on a
// VM. A Scratch takes a block from a small process-wide pool instead, and gives it back when it
// ends: after the first passes, a pass allocates, zeroes and faults nothing.
#pragma once

#include <cstddef>

namespace hades {

class Scratch {
 public:
  // At least FLOATS floats, 64-byte aligned and uninitialised: the caller writes before it reads.
  explicit Scratch(std::size_t floats);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  float* data() const { return data_; }
  std::size_t size() const { return size_; }

  // The pool keeps at most this many blocks (a few per thread that runs forward passes) ...
  static constexpr std::size_t kKeptBlocks = 6;
  // ... and none larger than this: a pass over one very long sequence (ModernBERT's 8,192 tokens
  // take 138 MB) must not hold that memory once it is over.
  static constexpr std::size_t kLargestKeptBytes = std::size_t{32} << 20;
  // The blocks and bytes the pool holds now, not counting blocks in use.
  static std::size_t kept_blocks();
  static std::size_t kept_bytes();
  // Hands every kept block back to the system (when a model is unloaded: the next model's passes
  // may need other sizes, and an idle server should not hold a pass's memory).
  static void release_kept();

 private:
  float* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace hades
