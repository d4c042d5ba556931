#include "hub/downloader.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "hades/error.hpp"
#include "hub/http_client.hpp"
#include "hub/repo_files.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;
using hub::HttpRequest;
using hub::HttpResponse;
using Clock = std::chrono::steady_clock;

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// huggingface_hub's reading of boolean variables (constants._is_true).
bool env_true(const char* name) {
  std::string value = env_or_empty(name);
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return value == "1" || value == "ON" || value == "YES" || value == "TRUE";
}

// Percent-encodes all but unreserved characters (and '/' when KEEP_SLASH), as the hub's URLs
// quote revisions and file paths.
std::string url_quote(const std::string& text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::vector<std::string> auth_headers(const HubSettings& hub) {
  if (hub.token.empty()) return {};
  return {"Authorization: Bearer " + hub.token};
}

// The message of a hub answer that is not a success, mapped to the error a user can act on.
[[noreturn]] void throw_hub_answer(const HttpResponse& answer, const std::string& model,
                                   const std::string& revision, const HubSettings& hub) {
  const std::string code = answer.header("x-error-code");
  const long status = answer.status;
  if (code == "RevisionNotFound") {
    throw Error(ErrorCode::model_not_found, "Model not found: " + model + " at revision '" +
                                                revision + "' (" + hub.endpoint +
                                                " has no such branch, tag or commit)");
  }
  if (code == "RepoNotFound" || (status == 404 && code != "EntryNotFound")) {
    throw Error(ErrorCode::model_not_found,
                "Model not found: " + model + " (" + hub.endpoint + " has no model of that id" +
                    (hub.token.empty() ? "; if it is private, set HF_TOKEN)" : ")"));
  }
  if (status == 401 || status == 403) {
    throw Error(ErrorCode::access_denied,
                hub.token.empty()
                    ? model +
                          " is gated or private: set HF_TOKEN to a token with access to it "
                          "(create one at https://huggingface.co/settings/tokens, and accept "
                          "the model's terms on its page)"
                    : model + " is gated or private and HF_TOKEN was refused for it (HTTP " +
                          std::to_string(status) +
                          "): accept the model's terms on its page, or use a token with access");
  }
  if (status == 429 || status >= 500) {
    throw Error(ErrorCode::network_error, hub.endpoint + " answered HTTP " +
                                              std::to_string(status) + " for " + model +
                                              "; try again later");
  }
  throw Error(ErrorCode::io_error, hub.endpoint + " answered HTTP " + std::to_string(status) +
                                       " for " + model + ": " + answer.body.substr(0, 200));
}

struct RepoListing {
  std::string commit;
  std::vector<std::string> files;
};

RepoListing fetch_listing(const std::string& model, const std::string& revision,
                          const HubSettings& hub) {
  HttpRequest request;
  request.url = hub.endpoint + "/api/models/" + model + "/revision/" + url_quote(revision, false);
  request.headers = auth_headers(hub);
  request.follow_redirects = true;  // a renamed repo answers with a redirect to its new name
  request.stall_timeout_s = hub.timeout_s;
  const HttpResponse answer = hub::http_request(request);
  if (answer.status != 200) throw_hub_answer(answer, model, revision, hub);
  const auto json = nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  RepoListing listing;
  if (json.is_object() && json.contains("sha") && json["sha"].is_string()) {
    listing.commit = json["sha"].get<std::string>();
  }
  if (!is_commit_hash(listing.commit) || !json.contains("siblings") ||
      !json["siblings"].is_array()) {
    throw Error(ErrorCode::io_error, request.url + " did not answer with a commit and a file list");
  }
  for (const auto& sibling : json["siblings"]) {
    if (sibling.is_object() && sibling.contains("rfilename") && sibling["rfilename"].is_string()) {
      listing.files.push_back(sibling["rfilename"].get<std::string>());
    }
  }
  return listing;
}

struct FileMeta {
  std::string name;
  std::string etag;  // the blob's name in the cache
  std::string url;   // where the bytes are (the file store for LFS files)
  uint64_t size = 0;
};

// As huggingface_hub's get_hf_file_metadata: a HEAD that follows only relative redirects (a
// renamed repo), so that an LFS file's 302 to the file store yields its linked etag and size.
FileMeta fetch_file_meta(const std::string& model, const std::string& commit,
                         const std::string& name, const HubSettings& hub) {
  HttpRequest request;
  request.method = "HEAD";
  request.url = hub.endpoint + "/" + model + "/resolve/" + commit + "/" + url_quote(name, true);
  request.headers = auth_headers(hub);
  request.headers.push_back("Accept-Encoding: identity");
  request.stall_timeout_s = hub.timeout_s;
  HttpResponse answer = hub::http_request(request);
  for (int hop = 0; hop < 5 && answer.status >= 300 && answer.status < 400; ++hop) {
    const std::string location = answer.header("location");
    if (location.empty() || location.front() != '/') break;
    request.url =
        hub.endpoint.substr(0, hub.endpoint.find('/', hub.endpoint.find("://") + 3)) + location;
    answer = hub::http_request(request);
  }
  if (answer.status >= 400 || answer.status < 200) throw_hub_answer(answer, model, commit, hub);
  FileMeta meta;
  meta.name = name;
  const std::string linked = answer.header("x-linked-etag");
  meta.etag = hub::normalize_etag(linked.empty() ? answer.header("etag") : linked);
  const std::string linked_size = answer.header("x-linked-size");
  meta.size = hub::parse_byte_count(
      linked_size.empty() ? answer.header("content-length") : linked_size, request.url);
  meta.url = answer.status >= 300 ? answer.header("location") : request.url;
  const bool etag_is_a_name = !meta.etag.empty() && meta.etag.find("..") == std::string::npos &&
                              std::all_of(meta.etag.begin(), meta.etag.end(), [](unsigned char c) {
                                return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
                              });
  if (!etag_is_a_name || meta.url.empty()) {
    throw Error(ErrorCode::io_error, request.url + " gave no usable ETag or Location");
  }
  return meta;
}

// Totals of one pull, told to the observer: every event, but progress at most every 100 ms.
class Progress {
 public:
  Progress(const DownloadObserver& observer, DownloadEvent totals)
      : observer_(observer), event_(std::move(totals)) {}

  void start() { emit(DownloadEvent::Kind::start); }
  void received(const std::string& file, uint64_t bytes, uint64_t file_bytes_on_disk) {
    event_.file = file;
    event_.transferred_bytes += bytes;
    current_file_bytes_ = file_bytes_on_disk;
    if (Clock::now() - last_ < std::chrono::milliseconds(100)) return;
    last_ = Clock::now();
    emit(DownloadEvent::Kind::progress);
  }
  void file_done(const std::string& file, uint64_t size) {
    event_.file = file;
    event_.done_bytes += size;
    ++event_.files_done;
    current_file_bytes_ = 0;
    emit(DownloadEvent::Kind::file_done);
  }
  void done() {
    event_.file.clear();
    emit(DownloadEvent::Kind::done);
  }
  uint64_t transferred() const { return event_.transferred_bytes; }

 private:
  void emit(DownloadEvent::Kind kind) {
    if (!observer_) return;
    DownloadEvent event = event_;
    event.kind = kind;
    event.done_bytes += current_file_bytes_;
    observer_(event);
  }

  const DownloadObserver& observer_;
  DownloadEvent event_;
  uint64_t current_file_bytes_ = 0;
  Clock::time_point last_{};
};

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// An exclusive flock on CACHE/.locks/REPO/ETAG.lock, the lock file huggingface_hub's filelock
// takes for the same blob: one process (or thread) downloads it, the others wait and reuse it.
UniqueFd lock_blob(const fs::path& lock_file) {
  fs::create_directories(lock_file.parent_path());
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    throw Error(ErrorCode::io_error,
                "cannot open lock file " + lock_file.string() + ": " + std::strerror(errno));
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      throw Error(ErrorCode::io_error,
                  "cannot lock " + lock_file.string() + ": " + std::strerror(errno));
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
  throw Error(ErrorCode::io_error,
              "cannot write " + partial.string() + ": " + std::strerror(error));
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
                Progress& progress) {
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

void download_blob(const FileMeta& meta, const fs::path& blob, const fs::path& lock_file,
                   const HubSettings& hub, Progress& progress) {
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

// A name for a temporary file beside PATH that no other thread or process picks.
fs::path temporary_beside(const fs::path& path) {
  static std::atomic<uint64_t> counter{0};
  return path.string() + ".hades-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// SNAPSHOT/NAME → a relative link to BLOB, as huggingface_hub makes them (_create_symlink), so
// that the cache can move as a whole.
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

RepoListing listing_or_network_error(const std::string& model, const std::string& revision,
                                     const HubSettings& hub) {
  try {
    return fetch_listing(model, revision, hub);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::network_error) throw;
    throw Error(ErrorCode::network_error,
                "cannot reach the hub at " + hub.endpoint + " (" + e.what() + "), and " + model +
                    " is not in the cache at " + hub.cache.string() +
                    "; check the network or HF_ENDPOINT, or copy the model into the cache");
  }
}

std::vector<std::string> wanted_files(const std::string& model, const RepoListing& listing) {
  if (!hub::has_safetensors_weights(listing.files)) {
    std::string weights;
    for (const std::string& name : hub::weight_files(listing.files)) {
      weights += (weights.empty() ? "" : ", ") + name;
    }
    throw Error(ErrorCode::unsupported,
                model + " has no safetensors weights (its weight files: " +
                    (weights.empty() ? std::string("none") : weights) +
                    "); hades loads only *.safetensors, never pickle or code");
  }
  std::vector<std::string> wanted;
  std::copy_if(listing.files.begin(), listing.files.end(), std::back_inserter(wanted),
               hub::is_wanted_file);
  return wanted;
}

std::string offline_message(const std::string& model, const HubSettings& hub) {
  return "Model not found: " + model + " (offline mode is on, HF_HUB_OFFLINE=1, and the cache at " +
         hub.cache.string() + " does not hold it; pull it while online)";
}

}  // namespace

HubSettings hub_settings_from_environment() {
  HubSettings hub;
  if (std::string endpoint = env_or_empty("HF_ENDPOINT"); !endpoint.empty()) {
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    hub.endpoint = endpoint;
  }
  hub.token = env_or_empty("HF_TOKEN");
  if (hub.token.empty()) {
    const std::string home = env_or_empty("HF_HOME");
    const std::string user_home = env_or_empty("HOME");
    const fs::path token_file =
        !home.empty() ? fs::path(home) / "token" : fs::path(user_home) / ".cache/huggingface/token";
    std::ifstream in(token_file);
    std::getline(in, hub.token);
  }
  hub.offline = env_true("HF_HUB_OFFLINE");
  hub.cache = hf_hub_cache_dir();
  if (const std::string timeout = env_or_empty("HF_HUB_DOWNLOAD_TIMEOUT"); !timeout.empty()) {
    char* end = nullptr;
    const long seconds = std::strtol(timeout.c_str(), &end, 10);
    if (*end != '\0' || seconds <= 0) {
      throw Error(ErrorCode::invalid_argument,
                  "HF_HUB_DOWNLOAD_TIMEOUT='" + timeout + "' is not a positive number of seconds");
    }
    hub.timeout_s = seconds;
  }
  return hub;
}

fs::path pull_model(const std::string& model_id, const PullOptions& options,
                    const HubSettings& hub) {
  check_model_id(model_id);
  check_revision(options.revision);
  if (hub.offline) {
    const auto cached = find_cached_model(model_id, options.revision, hub.cache);
    if (cached && is_complete_snapshot(*cached)) return *cached;
    throw Error(ErrorCode::model_not_found, offline_message(model_id, hub));
  }
  const RepoListing listing = listing_or_network_error(model_id, options.revision, hub);
  std::vector<FileMeta> files;
  DownloadEvent totals;
  totals.model = model_id;
  totals.commit = listing.commit;
  for (const std::string& name : wanted_files(model_id, listing)) {
    files.push_back(fetch_file_meta(model_id, listing.commit, name, hub));
    totals.total_bytes += files.back().size;
  }
  totals.files_total = files.size();
  const fs::path repo = hub.cache / repo_folder_name(model_id);
  const fs::path snapshot = repo / "snapshots" / listing.commit;
  fs::create_directories(repo / "blobs");
  Progress progress(options.observer, totals);
  progress.start();
  for (const FileMeta& meta : files) {
    const fs::path blob = repo / "blobs" / meta.etag;
    if (!fs::exists(blob)) {
      download_blob(meta, blob,
                    hub.cache / ".locks" / repo_folder_name(model_id) / (meta.etag + ".lock"), hub,
                    progress);
    }
    const fs::path link = snapshot / meta.name;
    if (!fs::exists(link)) link_snapshot_file(blob, link);
    progress.file_done(meta.name, meta.size);
  }
  // Last, so that a reader following refs/REVISION finds a whole snapshot.
  write_ref(repo, options.revision, listing.commit);
  progress.done();
  return snapshot;
}

fs::path resolve_model(const std::string& model, const DownloadObserver& observer,
                       const HubSettings& hub) {
  std::error_code ec;
  if (fs::is_directory(model, ec)) return model;
  // An absolute path names a folder, never a hub id (which cannot start with '/').
  if (!model.empty() && model.front() == '/') {
    throw Error(ErrorCode::model_not_found, "no such folder: " + model);
  }
  // "org/name@revision" names a revision; plain ids mean the main branch.
  const size_t at = model.find('@');
  const std::string id = model.substr(0, at);
  PullOptions options;
  options.revision = at == std::string::npos ? "main" : model.substr(at + 1);
  options.observer = observer;
  if (const auto cached = find_cached_model(id, options.revision, hub.cache)) {
    if (is_complete_snapshot(*cached) || hub.offline) return *cached;
  }
  return pull_model(id, options, hub);
}

}  // namespace hades
