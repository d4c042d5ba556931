#include "io/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "core/os_error.hpp"
#include "core/unique_fd.hpp"
#include "hades/error.hpp"

namespace hades {
namespace {

// Opens a regular file for reading and returns it with its size. O_NONBLOCK keeps a FIFO planted
// under a model file's name from blocking the open; it has no effect on regular files.
UniqueFd open_regular_file(const std::filesystem::path& path, std::uint64_t& size) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    const int error_number = errno;
    if (error_number == ENOENT || error_number == ENOTDIR) {
      throw Error(ErrorCode::not_found, path.string() + ": file not found");
    }
    throw Error(ErrorCode::io_error, os_error(path.string() + ": cannot open", error_number));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    throw Error(ErrorCode::io_error, os_error(path.string() + ": cannot stat", errno));
  }
  if (!S_ISREG(info.st_mode)) {
    throw Error(ErrorCode::invalid_model, path.string() + ": not a regular file");
  }
  size = static_cast<std::uint64_t>(info.st_size);
  return fd;
}

}  // namespace

MappedFile MappedFile::open(const std::filesystem::path& path) {
  std::uint64_t size = 0;
  const UniqueFd fd = open_regular_file(path, size);
  if (size == 0) return MappedFile(path, nullptr, 0);  // mmap rejects a zero length
  if (size > SIZE_MAX) {
    throw Error(ErrorCode::io_error, path.string() + ": file too large to map");
  }
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (data == MAP_FAILED) {
    throw Error(ErrorCode::io_error, os_error(path.string() + ": cannot map", errno));
  }
  return MappedFile(path, static_cast<const std::byte*>(data), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  unmap();
}

void MappedFile::release(std::span<const std::byte> range) const noexcept {
  if (range.empty() || range.data() < data_ || range.data() + range.size() > data_ + size_) return;
  static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(range.data()) & ~(page - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(range.data() + range.size());
  // Advice only: a failure leaves the pages resident, which is merely the old behaviour.
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

void MappedFile::unmap() noexcept {
  if (data_ != nullptr) {
    // munmap takes a non-const pointer; the mapping was created by this object, so this is the
    // address mmap returned.
    ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }
}

std::string read_file_text(const std::filesystem::path& path, std::uint64_t max_bytes) {
  std::uint64_t size = 0;
  const UniqueFd fd = open_regular_file(path, size);
  if (size > max_bytes) {
    throw Error(ErrorCode::invalid_model, path.string() + ": file is " + std::to_string(size) +
                                              " bytes, more than the limit of " +
                                              std::to_string(max_bytes));
  }
  std::string text(static_cast<std::size_t>(size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t got = ::read(fd.get(), text.data() + done, text.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(ErrorCode::io_error, os_error(path.string() + ": cannot read", errno));
    if (got == 0) break;  // the file shrank since fstat; parse what is there
    done += static_cast<std::size_t>(got);
  }
  text.resize(done);
  return text;
}

}  // namespace hades
