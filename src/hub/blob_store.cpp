#include "hub/blob_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "core/os_error.hpp"
#include "core/unique_fd.hpp"
#include "hades/error.hpp"
#include "hub/http_client.hpp"
#include "hub/repo_files.hpp"

namespace hades::hub {
namespace {

namespace fs = std::filesystem;

// An exclusive flock on CACHE/.locks/REPO/ETAG.lock, the lock file huggingface_hub's filelock
// takes for the same blob: one process (or thread) downloads it, the others wait and reuse it.
UniqueFd lock_blob(const fs::path& lock_file) {
  fs::create_directories(lock_file.parent_path());
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    throw Error(ErrorCode::io_error,
                os_error("cannot open lock file " + lock_file.string(), errno));
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      throw Error(ErrorCode::io_error, os_error("cannot lock " + lock_file.string(), errno));
    }
  }
  return fd;
}

[[noreturn]] void throw_write_error(const fs::path& partial, int error) {
  if (error == ENOSPC || error == EDQUOT) {
    // The system's own words too: EDQUOT is a full quota, not a full disk.
    throw Error(ErrorCode::io_error,
                "disk full writing " + partial.string() + " (" + std::strerror(error) +
                    "): the bytes downloaded so far are kept there; free space and pull again to "
                    "resume");
  }
  throw Error(ErrorCode::io_error, os_error("cannot write " + partial.string(), error));
}

void check_free_space(const fs::path& folder, uint64_t needed_bytes) {
  std::error_code ec;
  const fs::space_info space = fs::space(folder, ec);
  if (!ec && space.available < needed_bytes) {
    throw Error(ErrorCode::io_error, "disk full: " + folder.string() + " has " +
                                         std::to_string(space.available) + " bytes free, " +
                                         std::to_string(needed_bytes) +
                                         " are needed; free space and pull again");
  }
}

// One GET of META's bytes from the end of PARTIAL on, appended to it. Throws network_error when
// the transfer breaks off (what arrived stays in PARTIAL).
void fetch_rest(const FileMeta& meta, const fs::path& partial, const HubSettings& hub,
                DownloadProgress& progress) {
  UniqueFd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw_write_error(partial, errno);
  uint64_t on_disk = fs::file_size(partial);
  HttpRequest request;
  request.url = meta.url;
  // The token goes to the hub only, never to a file store on another host; libcurl drops it on
  // redirects to another host as well.
  if (hub::url_authority(meta.url) == hub::url_authority(hub.endpoint)) {
    request.headers = auth_headers(hub);
  }
  request.range_from = on_disk;
  request.follow_redirects = true;
  request.stall_timeout_s = hub.timeout_s;
  bool first = true;
  const auto sink = [&](long status, const char* data, size_t size) {
    if (first && status == 200 && on_disk > 0) {
      // The server ignored the range and sends the whole file: start over.
      if (::ftruncate(fd.get(), 0) != 0) throw_write_error(partial, errno);
      on_disk = 0;
    }
    first = false;
    for (size_t written = 0; written < size;) {
      const ssize_t n = ::write(fd.get(), data + written, size - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_write_error(partial, errno);
      written += static_cast<size_t>(n);
    }
    on_disk += size;
    progress.received(meta.name, size, on_disk);
  };
  const HttpResponse answer = hub::http_request(request, sink);
  if (answer.status == 416) {
    fs::remove(partial);  // our partial file is longer than the file: it is not this file
    throw Error(ErrorCode::network_error, meta.url + " refused the range; starting over");
  }
  if (answer.status != 200 && answer.status != 206) {
    throw Error(ErrorCode::io_error,
                meta.url + " answered HTTP " + std::to_string(answer.status) + " for " + meta.name);
  }
}

// Fails unless PARTIAL has META's size and, for LFS files, its sha256; a file that fails is
// deleted, as resuming it would only keep the bad bytes.
void verify_download(const FileMeta& meta, const fs::path& partial) {
  const uint64_t size = fs::file_size(partial);
  std::string problem;
  if (size != meta.size) {
    problem =
        "its size is " + std::to_string(size) + " bytes, the hub said " + std::to_string(meta.size);
  } else if (hub::is_sha256_hex(meta.etag)) {
    const std::string digest = hub::sha256_file(partial);
    if (digest != meta.etag) problem = "its sha256 is " + digest + ", the hub said " + meta.etag;
  }
  if (problem.empty()) return;
  fs::remove(partial);
  throw Error(ErrorCode::io_error, "the download of " + meta.name + " is corrupt (" + problem +
                                       "); it was deleted and never loaded; pull again");
}

// A name for a temporary file beside PATH that no other thread or process picks.
fs::path temporary_beside(const fs::path& path) {
  static std::atomic<uint64_t> counter{0};
  return path.string() + ".hades-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

}  // namespace

void download_blob(const FileMeta& meta, const fs::path& blob, const fs::path& lock_file,
                   const HubSettings& hub, DownloadProgress& progress) {
  const UniqueFd lock = lock_blob(lock_file);
  if (fs::exists(blob)) return;  // another process finished it while we waited
  const fs::path partial = blob.string() + ".incomplete";
  for (int attempt = 1;; ++attempt) {
    uint64_t on_disk = fs::exists(partial) ? fs::file_size(partial) : 0;
    if (on_disk > meta.size) {
      fs::remove(partial);  // longer than the file: not a prefix of it
      on_disk = 0;
    }
    if (fs::exists(partial) && on_disk == meta.size) break;
    check_free_space(blob.parent_path(), meta.size - std::min(on_disk, meta.size));
    try {
      fetch_rest(meta, partial, hub, progress);
      if (fs::file_size(partial) >= meta.size) break;
      throw Error(ErrorCode::network_error, meta.url + ": the transfer ended early");
    } catch (const Error& e) {
      if (e.code() != ErrorCode::network_error) throw;
      if (attempt >= hub.max_attempts) {
        throw Error(ErrorCode::network_error, "the download of " + meta.name + " broke off " +
                                                  std::to_string(attempt) + " times (" + e.what() +
                                                  "); what arrived is kept in " + partial.string() +
                                                  " and the next pull resumes from there");
      }
      // Back off a little before resuming, as a flaky network rarely recovers at once.
      std::this_thread::sleep_for(std::chrono::milliseconds(200) * attempt);
    }
  }
  verify_download(meta, partial);
  fs::permissions(partial, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                               fs::perms::others_read);
  fs::rename(partial, blob);  // atomic: the blob is whole or absent
}

void link_snapshot_file(const fs::path& blob, const fs::path& link) {
  fs::create_directories(link.parent_path());
  const fs::path target = blob.lexically_relative(link.parent_path());
  const fs::path temporary = temporary_beside(link);
  fs::create_symlink(target, temporary);
  fs::rename(temporary, link);
}

void write_ref(const fs::path& repo, const std::string& revision, const std::string& commit) {
  if (revision == commit) return;
  fs::create_directories(repo / "refs");
  const fs::path temporary = temporary_beside(repo / "refs" / revision);
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << commit;
    if (!out) throw Error(ErrorCode::io_error, "cannot write " + temporary.string());
  }
  fs::rename(temporary, repo / "refs" / revision);
}

}  // namespace hades::hub
