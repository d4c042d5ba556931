// A disk that fills up, for tests, without privileges: an LD_PRELOAD library that makes writes
// to files under one folder fail with ENOSPC once a byte budget is used up.
//
//   LD_PRELOAD=libhades_enospc_shim.so HADES_ENOSPC_DIR=/some/folder
//   HADES_ENOSPC_BUDGET_BYTES=300000 hades serve ...   (one command line)
//
// write, pwrite and writev to a descriptor whose file (/proc/self/fd/N) lies under the folder
// succeed until the budget is spent; the write that crosses it is cut short at the budget, as a
// real file system does, and every later one fails with ENOSPC. Other descriptors (sockets, the
// log) are never touched. Without HADES_ENOSPC_DIR the library only passes calls on.
#include <dlfcn.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct Budget {
  const char* dir = nullptr;  // without a trailing slash
  size_t dir_length = 0;
  std::atomic<long long> bytes_left{0};
};

Budget& budget() {
  static Budget* const instance = [] {
    auto* b = new Budget;
    b->dir = std::getenv("HADES_ENOSPC_DIR");
    if (b->dir != nullptr) {
      b->dir_length = std::strlen(b->dir);
      while (b->dir_length > 1 && b->dir[b->dir_length - 1] == '/') --b->dir_length;
    }
    const char* bytes = std::getenv("HADES_ENOSPC_BUDGET_BYTES");
    b->bytes_left = bytes == nullptr ? 0 : std::atoll(bytes);
    return b;
  }();
  return *instance;
}

bool under_watched_dir(int fd) {
  const Budget& b = budget();
  if (b.dir == nullptr) return false;
  char link[64];
  char target[PATH_MAX];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, target, sizeof(target) - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return std::strncmp(target, b.dir, b.dir_length) == 0 && target[b.dir_length] == '/';
}

// How many of COUNT bytes a write to FD may write: COUNT off the watched folder, else what is
// left of the budget (taken from it); 0 with errno ENOSPC when nothing is left.
size_t allowed_bytes(int fd, size_t count) {
  if (count == 0 || !under_watched_dir(fd)) return count;
  std::atomic<long long>& left = budget().bytes_left;
  long long current = left.load();
  long long take = 0;
  do {
    take = std::min<long long>(current, static_cast<long long>(count));
    if (take <= 0) {
      errno = ENOSPC;
      return 0;
    }
  } while (!left.compare_exchange_weak(current, current - take));
  return static_cast<size_t>(take);
}

template <typename Function>
Function next(const char* name) {
  return reinterpret_cast<Function>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* data, size_t count) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  const size_t allowed = allowed_bytes(fd, count);
  if (allowed == 0 && count > 0) return -1;
  return real(fd, data, allowed);
}

ssize_t pwrite(int fd, const void* data, size_t count, off_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  const size_t allowed = allowed_bytes(fd, count);
  if (allowed == 0 && count > 0) return -1;
  return real(fd, data, allowed, offset);
}

ssize_t pwrite64(int fd, const void* data, size_t count, off64_t offset) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  const size_t allowed = allowed_bytes(fd, count);
  if (allowed == 0 && count > 0) return -1;
  return real(fd, data, allowed, offset);
}

ssize_t writev(int fd, const struct iovec* vectors, int vector_count) {
  static const auto real = next<ssize_t (*)(int, const struct iovec*, int)>("writev");
  size_t total = 0;
  for (int i = 0; i < vector_count; ++i) total += vectors[i].iov_len;
  size_t allowed = allowed_bytes(fd, total);
  if (allowed == 0 && total > 0) return -1;
  if (allowed == total) return real(fd, vectors, vector_count);
  std::vector<iovec> cut;  // the first ALLOWED bytes of the vectors
  for (int i = 0; i < vector_count && allowed > 0; ++i) {
    const size_t length = std::min(allowed, vectors[i].iov_len);
    cut.push_back({vectors[i].iov_base, length});
    allowed -= length;
  }
  return real(fd, cut.data(), static_cast<int>(cut.size()));
}

}  // extern "C"
