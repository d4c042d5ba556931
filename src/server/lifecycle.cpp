#include "server/lifecycle.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include "core/os_error.hpp"
#include "hades/error.hpp"

namespace hades::server {
namespace {

constexpr int kListenBacklog = 512;

std::string user_name(uid_t uid) {
  const passwd* entry = ::getpwuid(uid);
  const std::string id = "uid " + std::to_string(uid);
  return entry == nullptr ? id : std::string(entry->pw_name) + " (" + id + ")";
}

sockaddr_un socket_address(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& text = path.native();
  if (text.empty() || text.size() >= sizeof(address.sun_path)) {
    throw Error(ErrorCode::invalid_argument, "socket path '" + text + "' must be 1 to " +
                                                 std::to_string(sizeof(address.sun_path) - 1) +
                                                 " bytes long");
  }
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  return address;
}

// The pid in an open lock file. The winner of a race writes it just after taking the lock, so a
// loser that finds the file empty looks again for a moment.
std::string read_pid(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    char buffer[32] = {};
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
    if (n > 0 && buffer[n - 1] == '\n') return std::string(buffer, static_cast<size_t>(n - 1));
    if (std::chrono::steady_clock::now() > deadline) return "unknown";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string already_running(const std::string& pid, const std::filesystem::path& socket) {
  return "already running (pid " + pid + ") on " + socket.string();
}

// Connects to an existing socket file: true when a server accepts on it (its pid in PEER_PID),
// false when nobody does (a stale file).
bool someone_listens(const std::filesystem::path& path, std::string& peer_pid) {
  const UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw Error(ErrorCode::io_error, os_error("socket()", errno));
  const sockaddr_un address = socket_address(path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno == ECONNREFUSED || errno == ENOENT) return false;
    throw Error(ErrorCode::io_error, os_error("cannot probe the socket " + path.string(), errno));
  }
  ucred peer{};
  socklen_t size = sizeof(peer);
  peer_pid = ::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0
                 ? std::to_string(peer.pid)
                 : "unknown";
  return true;
}

// What is at PATH now: nothing, or a stale socket of ours (removed here). Anything else throws.
void clear_socket_path(const std::filesystem::path& path, Logger& log) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw Error(ErrorCode::io_error, os_error("cannot inspect " + path.string(), errno));
  }
  if (st.st_uid != ::geteuid()) {
    throw Error(ErrorCode::conflict, "socket path " + path.string() + " is owned by " +
                                         user_name(st.st_uid) + ", not by " +
                                         user_name(::geteuid()) +
                                         "; refusing to use it (choose another socket path)");
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw Error(ErrorCode::conflict,
                path.string() + " exists and is not a socket; refusing to replace it");
  }
  std::string pid;
  if (someone_listens(path, pid)) throw Error(ErrorCode::conflict, already_running(pid, path));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw Error(ErrorCode::io_error,
                os_error("cannot remove the stale socket " + path.string(), errno));
  }
  log.info("removed the stale socket " + path.string() + " (no server accepted on it)");
}

// The socket's folder, created private (0700) when missing.
void ensure_parent_folder(const std::filesystem::path& path) {
  const std::filesystem::path parent = path.parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  if (std::filesystem::is_directory(parent, ec)) return;
  if (!std::filesystem::create_directories(parent, ec) && ec) {
    throw Error(ErrorCode::io_error,
                "cannot create the socket folder " + parent.string() + ": " + ec.message());
  }
  std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
}

}  // namespace

std::filesystem::path lock_path_for(const std::filesystem::path& socket) {
  return socket.string() + ".lock";
}

std::filesystem::path log_path_for(const std::filesystem::path& socket) {
  return socket.string() + ".log";
}

DaemonLock DaemonLock::acquire(const std::filesystem::path& socket) {
  ensure_parent_folder(socket);
  const std::filesystem::path path = lock_path_for(socket);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd)
    throw Error(ErrorCode::io_error, os_error("cannot open the lock file " + path.string(), errno));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      throw Error(ErrorCode::conflict, already_running(read_pid(fd.get()), socket));
    throw Error(ErrorCode::io_error, os_error("cannot lock " + path.string(), errno));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    throw Error(ErrorCode::io_error, os_error("cannot write the pid into " + path.string(), errno));
  }
  return DaemonLock(std::move(fd));
}

DaemonLock::~DaemonLock() {
  // Cleared while still held: a later reader never sees a dead daemon's pid. The file itself
  // stays; unlinking it would let two daemons lock two different files of the same name.
  if (fd_) {
    [[maybe_unused]] const int cleared = ::ftruncate(fd_.get(), 0);
  }
}

SocketFile::SocketFile(SocketFile&& other) noexcept
    : path_(std::move(other.path_)),
      device_(other.device_),
      inode_(other.inode_),
      armed_(std::exchange(other.armed_, false)) {}

void SocketFile::remove() noexcept {
  if (!armed_) return;
  armed_ = false;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) return;
  if (st.st_dev == device_ && st.st_ino == inode_) ::unlink(path_.c_str());
}

ListeningSocket listen_on_socket(const std::filesystem::path& path, Logger& log) {
  const sockaddr_un address = socket_address(path);
  clear_socket_path(path, log);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw Error(ErrorCode::io_error, os_error("socket()", errno));
  // bind() creates the file with the umask applied: 0177 leaves 0600, so it is never reachable
  // by others, not even between bind() and the chmod() below.
  const mode_t old_umask = ::umask(0177);
  const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  const int bind_errno = errno;
  ::umask(old_umask);
  if (bound != 0) {
    throw Error(bind_errno == EADDRINUSE ? ErrorCode::conflict : ErrorCode::io_error,
                os_error("cannot bind " + path.string(), bind_errno));
  }
  struct stat st {};
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &st) != 0) {
    throw Error(ErrorCode::io_error, os_error("cannot secure " + path.string(), errno));
  }
  SocketFile file(path, st.st_dev, st.st_ino);
  if (::listen(fd.get(), kListenBacklog) != 0) {
    throw Error(ErrorCode::io_error, os_error("cannot listen on " + path.string(), errno));
  }
  return ListeningSocket{std::move(fd), std::move(file)};
}

ShutdownSignals::ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::optional<int> ShutdownSignals::wait(std::optional<std::chrono::milliseconds> timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  for (;;) {
    int signal_number = -1;
    if (!timeout) {
      if (sigwait(&set, &signal_number) == 0) return signal_number;
      continue;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout).count();
    const timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    signal_number = sigtimedwait(&set, nullptr, &ts);
    if (signal_number > 0) return signal_number;
    if (errno == EAGAIN) return std::nullopt;
  }
}

void prepare_process() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // open() returns the lowest free descriptor, which is FD itself.
    const int opened = ::open("/dev/null", O_RDWR);
    if (opened >= 0 && opened != fd) ::close(opened);
  }
  ::signal(SIGPIPE, SIG_IGN);
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace hades::server
