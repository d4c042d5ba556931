#include "core/paged_array.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>

namespace hades {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kHeapAlignment = 64;  // what oneDNN asks of its buffers
constexpr std::size_t kMaxBytes = std::size_t{1} << 40;

// Mapped bytes freed and not yet taken again for huge pages (see PagedMemory's constructor).
std::atomic<std::size_t> g_recycled_bytes{0};

bool take_recycled(std::size_t bytes) {
  std::size_t available = g_recycled_bytes.load(std::memory_order_relaxed);
  while (available >= bytes) {
    if (g_recycled_bytes.compare_exchange_weak(available, available - bytes,
                                               std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

std::size_t round_up(std::size_t value, std::size_t step) {
  return (value + step - 1) / step * step;
}

std::size_t page_size() {
  static const auto size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// Maps `bytes` (a multiple of the page size) at a 2 MiB boundary: maps 2 MiB more than needed,
// then unmaps the unaligned head and the tail, so no address space is left over.
void* map_aligned(std::size_t bytes) {
  const std::size_t span = bytes + kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = round_up(start, kHugePage);
  if (aligned > start) munmap(raw, aligned - start);
  const std::uintptr_t end = aligned + bytes;
  if (start + span > end) munmap(reinterpret_cast<void*>(end), start + span - end);
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

PagedMemory::PagedMemory(std::size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  // Beyond any real array, and refused before the size arithmetic below could wrap around (and
  // before AddressSanitizer's allocator, which aborts on sizes past 1 TiB instead of throwing).
  if (bytes > kMaxBytes) throw std::bad_alloc();
  if (!mapped()) {
    data_ = ::operator new (bytes, std::align_val_t{kHeapAlignment});
    std::memset(data_, 0, bytes);
    return;
  }
  data_ = map_aligned(round_up(bytes, page_size()));
  // Huge pages only for as many bytes as this process has given back (evictions, unloads, a
  // load's temporaries): the 2 MiB blocks the kernel hands out are then mostly the ones just
  // freed. Fresh blocks are slow under a hypervisor that reclaims free guest memory (free page
  // reporting, as on the development VM): each of their 4 KiB pages first faults in the host.
  // There a process's first load was slower on huge pages than on small ones, while reloads,
  // which recycle freed blocks, were faster.
  // Where the kernel has transparent huge pages off, madvise fails harmlessly.
  const std::size_t whole_blocks = bytes / kHugePage * kHugePage;
  if (whole_blocks > 0 && take_recycled(whole_blocks)) madvise(data_, whole_blocks, MADV_HUGEPAGE);
}

void PagedMemory::release() noexcept {
  if (data_ == nullptr) return;
  if (mapped()) {
    munmap(data_, round_up(bytes_, page_size()));
    g_recycled_bytes.fetch_add(bytes_, std::memory_order_relaxed);
  } else {
    ::operator delete (data_, std::align_val_t{kHeapAlignment});
  }
  data_ = nullptr;
  bytes_ = 0;
}

}  // namespace hades
