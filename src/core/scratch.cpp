#include "core/scratch.hpp"

#include <algorithm>
#include <mutex>
#include <new>
#include <vector>

namespace hades {
namespace {

constexpr std::align_val_t kAlignment{64};
// Blocks are rounded up to this many floats (1 MiB), so that passes of slightly different sizes
// (groups of whole sequences vary by a sequence) reuse one block rather than replace it each time.
constexpr std::size_t kGranule = std::size_t{1} << 18;

struct Block {
  float* data;
  std::size_t size;
};

void release(Block block) {
  ::operator delete[](block.data, kAlignment);
}

Block allocate(std::size_t floats) {
  const std::size_t size = (std::max<std::size_t>(floats, 1) + kGranule - 1) / kGranule * kGranule;
  return {static_cast<float*>(::operator new[](size * sizeof(float), kAlignment)), size};
}

class Pool {
 public:
  // The smallest kept block that holds FLOATS; else a new one, in place of the largest kept
  // block (too small, and superseded by the new one).
  Block take(std::size_t floats) {
    std::unique_lock lock(mutex_);
    auto best = kept_.end();
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (it->size >= floats && (best == kept_.end() || it->size < best->size)) best = it;
    }
    if (best != kept_.end()) {
      const Block found = *best;
      kept_.erase(best);
      return found;
    }
    std::vector<Block> dropped;
    if (!kept_.empty()) {
      auto largest =
          std::max_element(kept_.begin(), kept_.end(),
                           [](const Block& a, const Block& b) { return a.size < b.size; });
      dropped.push_back(*largest);
      kept_.erase(largest);
    }
    lock.unlock();  // the system's calls outside the lock
    for (const Block& b : dropped) release(b);
    return allocate(floats);
  }

  void give_back(Block block) {
    if (block.size * sizeof(float) > Scratch::kLargestKeptBytes) return release(block);
    std::unique_lock lock(mutex_);
    kept_.push_back(block);
    if (kept_.size() <= Scratch::kKeptBlocks) return;
    auto smallest = std::min_element(
        kept_.begin(), kept_.end(), [](const Block& a, const Block& b) { return a.size < b.size; });
    const Block dropped = *smallest;
    kept_.erase(smallest);
    lock.unlock();
    release(dropped);
  }

  std::size_t kept_blocks() {
    const std::lock_guard lock(mutex_);
    return kept_.size();
  }

  void release_all() {
    std::vector<Block> all;
    {
      const std::lock_guard lock(mutex_);
      all.swap(kept_);
    }
    for (const Block& b : all) release(b);
  }

  std::size_t kept_bytes() {
    const std::lock_guard lock(mutex_);
    std::size_t bytes = 0;
    for (const Block& b : kept_) bytes += b.size * sizeof(float);
    return bytes;
  }

 private:
  std::mutex mutex_;
  std::vector<Block> kept_;
};

// Never destroyed: a pass may still end on some thread while the process exits.
Pool& pool() {
  static Pool* const instance = new Pool;
  return *instance;
}

}  // namespace

Scratch::Scratch(std::size_t floats) {
  const Block block = pool().take(floats);
  data_ = block.data;
  size_ = block.size;
}

Scratch::~Scratch() {
  pool().give_back({data_, size_});
}

std::size_t Scratch::kept_blocks() {
  return pool().kept_blocks();
}

std::size_t Scratch::kept_bytes() {
  return pool().kept_bytes();
}

void Scratch::release_kept() {
  pool().release_all();
}

}  // namespace hades
