// Storage for a model's large load-once arrays: embedding tables, weights on their way into the
// backend's layout, and the packed weights themselves.
//
// Why not std::vector: a MiniLM load writes ~130 MB into freshly allocated memory (the embedding
// table, each layer's weights as floats, then in the backend's layout), most of it zeroed first by
// the vector, and page faults were the largest part of a load through the service (perf). Storage
// of 1 MiB or more is therefore mapped straight from the kernel (zeroed once, by it), aligned to 2
// MiB, and may ask for transparent huge pages on its whole 2 MiB blocks (512 times fewer faults;
// when, see paged_array.cpp). The partial block at the end stays on 4 KiB pages, so a huge page
// never holds memory the array does not use, and freeing unmaps at once, so an evicted model's
// memory goes back to the system.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)  // GCC
#define HADES_PAGED_ARRAY_ON_HEAP 1
#elif defined(__has_feature)  // Clang
#if __has_feature(address_sanitizer)
#define HADES_PAGED_ARRAY_ON_HEAP 1
#endif
#endif
#ifndef HADES_PAGED_ARRAY_ON_HEAP
#define HADES_PAGED_ARRAY_ON_HEAP 0
#endif

namespace hades {

// Untyped, zero-filled, 64-byte aligned bytes (see above for where they come from).
class PagedMemory {
 public:
  PagedMemory() = default;
  // Throws std::bad_alloc when the system refuses the memory.
  explicit PagedMemory(std::size_t bytes);
  PagedMemory(PagedMemory&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  PagedMemory& operator=(PagedMemory&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  PagedMemory(const PagedMemory&) = delete;
  PagedMemory& operator=(const PagedMemory&) = delete;
  ~PagedMemory() { release(); }

  void* data() const noexcept { return data_; }
  std::size_t bytes() const noexcept { return bytes_; }
  // Whether the storage was mapped from the kernel rather than taken from the heap.
  bool mapped() const noexcept { return bytes_ >= kMappedFrom; }

#if HADES_PAGED_ARRAY_ON_HEAP
  // AddressSanitizer checks heap blocks only: under it everything comes from the heap.
  static constexpr std::size_t kMappedFrom = SIZE_MAX;
#else
  static constexpr std::size_t kMappedFrom = std::size_t{1} << 20;
#endif

 private:
  void release() noexcept;

  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// A fixed-size array of a trivially copyable T on PagedMemory, zero-initialised. It has no
// resize: a model's arrays are sized once, at load.
template <class T>
class PagedArray {
  static_assert(std::is_trivially_copyable_v<T>, "PagedArray holds plain numbers");

 public:
  PagedArray() = default;
  explicit PagedArray(std::size_t count) : memory_(checked_bytes(count)), size_(count) {}
  // A moved-from array is empty (the default move would leave its size behind).
  PagedArray(PagedArray&& other) noexcept
      : memory_(std::move(other.memory_)), size_(std::exchange(other.size_, 0)) {}
  PagedArray& operator=(PagedArray&& other) noexcept {
    memory_ = std::move(other.memory_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  T* data() noexcept { return static_cast<T*>(memory_.data()); }
  const T* data() const noexcept { return static_cast<const T*>(memory_.data()); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T* begin() noexcept { return data(); }
  T* end() noexcept { return data() + size_; }
  const T* begin() const noexcept { return data(); }
  const T* end() const noexcept { return data() + size_; }
  T& operator[](std::size_t i) noexcept { return data()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data()[i]; }
  std::span<T> span() noexcept { return {data(), size_}; }
  std::span<const T> span() const noexcept { return {data(), size_}; }

 private:
  static std::size_t checked_bytes(std::size_t count) {
    if (count > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    return count * sizeof(T);
  }

  PagedMemory memory_;
  std::size_t size_ = 0;
};

}  // namespace hades
