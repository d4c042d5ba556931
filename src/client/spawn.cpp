#include "client/spawn.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <utility>

#include "client/socket_io.hpp"
#include "core/os_error.hpp"
#include "hades/error.hpp"

extern char** environ;

namespace hades::client {
namespace {

// What the forked processes tell the parent through the status pipe.
struct SpawnReport {
  enum Kind : int32_t { daemon_pid, fork_failed, exec_failed } kind;
  int32_t value;  // a pid or an errno
};

// argv/envp as the exec call wants them; built before fork, since the child may only make
// async-signal-safe calls.
class ExecArguments {
 public:
  explicit ExecArguments(const DaemonSpec& spec) {
    strings_.push_back(spec.program.string());
    for (const auto& argument : spec.arguments) strings_.push_back(argument);
    argument_count_ = strings_.size();
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view text(*entry);
      bool replaced = false;
      for (const auto& [name, value] : spec.environment) {
        replaced = replaced || text.substr(0, text.find('=')) == name;
      }
      if (!replaced) strings_.emplace_back(text);
    }
    for (const auto& [name, value] : spec.environment) {
      std::string entry = name;
      strings_.push_back(std::move(entry.append("=").append(value)));
    }
    for (size_t i = 0; i < strings_.size(); ++i) {
      (i < argument_count_ ? argv_ : envp_).push_back(strings_[i].data());
    }
    argv_.push_back(nullptr);
    envp_.push_back(nullptr);
  }
  char* const* argv() { return argv_.data(); }
  char* const* envp() { return envp_.data(); }

 private:
  std::vector<std::string> strings_;
  size_t argument_count_ = 0;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
};

void report(int fd, SpawnReport message) {
  // A pipe write of a few bytes is atomic; if the parent is gone there is no one to tell.
  [[maybe_unused]] const ssize_t ignored = ::write(fd, &message, sizeof(message));
}

// The grandchild: becomes the daemon. Only async-signal-safe calls from here to exec.
[[noreturn]] void become_daemon(ExecArguments& exec, int null_fd, int log_fd, int report_fd) {
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(null_fd, STDOUT_FILENO);
  ::dup2(log_fd, STDERR_FILENO);
  // Whatever descriptors the caller holds (a test runner's pipes, sockets) must not keep living
  // in the daemon; the report pipe still closes only at exec, telling the parent it succeeded.
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (const int signal_number : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD}) {
    ::signal(signal_number, SIG_DFL);
  }
  if (::chdir("/") != 0) _exit(127);
  ::execve(exec.argv()[0], exec.argv(), exec.envp());
  report(report_fd, {SpawnReport::exec_failed, errno});
  _exit(127);
}

// The child: leaves our session and forks the daemon, reports its pid, exits.
[[noreturn]] void run_intermediate(ExecArguments& exec, int null_fd, int log_fd, int report_fd) {
  ::setsid();
  const pid_t daemon = ::fork();
  if (daemon == 0) become_daemon(exec, null_fd, log_fd, report_fd);
  if (daemon < 0) {
    report(report_fd, {SpawnReport::fork_failed, errno});
  } else {
    report(report_fd, {SpawnReport::daemon_pid, daemon});
  }
  _exit(0);
}

UniqueFd open_or_throw(const std::filesystem::path& path, int flags, const char* what) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0600));
  if (!fd) {
    throw Error(ErrorCode::io_error,
                os_error(std::string("cannot open ") + what + " " + path.string(), errno));
  }
  return fd;
}

}  // namespace

int64_t spawn_daemon(const DaemonSpec& spec) {
  ExecArguments exec(spec);
  const UniqueFd null_fd = open_or_throw("/dev/null", O_RDWR, "the null device");
  const UniqueFd log_fd =
      open_or_throw(spec.stderr_file, O_WRONLY | O_CREAT | O_APPEND, "the log file");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw Error(ErrorCode::io_error, os_error("cannot create a pipe", errno));
  }
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  const pid_t child = ::fork();
  if (child < 0) throw Error(ErrorCode::io_error, os_error("fork", errno));
  if (child == 0) run_intermediate(exec, null_fd.get(), log_fd.get(), write_end.get());
  write_end.reset();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }

  // Reports until every write end is closed: the daemon's closes at its exec.
  int64_t daemon_pid = 0;
  SpawnReport message{};
  for (;;) {
    const ssize_t got = ::read(read_end.get(), &message, sizeof(message));
    if (got < 0 && errno == EINTR) continue;
    if (got != static_cast<ssize_t>(sizeof(message))) break;
    switch (message.kind) {
      case SpawnReport::daemon_pid: daemon_pid = message.value; break;
      case SpawnReport::fork_failed:
        throw Error(ErrorCode::io_error, os_error("cannot fork the daemon", message.value));
      case SpawnReport::exec_failed:
        throw Error(ErrorCode::io_error,
                    os_error("cannot run " + spec.program.string(), message.value));
    }
  }
  if (daemon_pid <= 0) {
    throw Error(ErrorCode::io_error, "the daemon of " + spec.program.string() + " did not start");
  }
  return daemon_pid;
}

}  // namespace hades::client
