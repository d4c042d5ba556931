// Read-only access to files: a memory map for weights, a bounded read for small text files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

namespace hades {

// A whole file mapped read-only; the one owner of the mapping (unmapped in the destructor).
//
// The mapping is private and read-only, so hades never writes through it. It does assume that the
// file is not truncated while mapped (reading a truncated page raises SIGBUS); model files in the
// Hugging Face cache are immutable blobs, and hades writes downloads to a new file and renames it.
class MappedFile {
 public:
  // Maps `path`. Throws Error: not_found when it does not exist, invalid_model when it is not a
  // regular file, io_error when the OS refuses to open or map it. An empty file maps to no bytes.
  static MappedFile open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  const std::filesystem::path& path() const noexcept { return path_; }

  // Drops the pages that hold RANGE (a part of bytes()) from the process: the mapping is
  // read-only and private, so a later read faults them in again from the file (the page cache
  // usually still has them). Keeps a load from holding both the file and the converted weights.
  void release(std::span<const std::byte> range) const noexcept;

 private:
  MappedFile(std::filesystem::path path, const std::byte* data, std::size_t size) noexcept
      : path_(std::move(path)), data_(data), size_(size) {}
  void unmap() noexcept;

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Reads a whole regular file of at most `max_bytes` into a string. Throws Error: not_found when it
// does not exist, invalid_model when it is not a regular file or is larger than `max_bytes`,
// io_error when the OS refuses to read it.
std::string read_file_text(const std::filesystem::path& path, std::uint64_t max_bytes);

}  // namespace hades
