// What the client e2e tests share: a private socket folder whose daemons are always killed and
// reaped at the end (also when a test fails), the `hades` program run as a child with its output
// captured, counts of the daemons on a socket, and the test's knobs.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/service.hpp"
#include "hades/client.hpp"
#include "support/paths.hpp"

namespace hades::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A knob of these tests from the environment (HADES_E2E_...), else FALLBACK.
inline int knob(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value == nullptr || *value == '\0' ? fallback : std::atoi(value);
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Daemons whose parent dies are handed to this process, so that they are reaped here rather than
// left as zombies (the container's init does not reap).
inline void become_subreaper() {
  static const bool once = [] {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    return true;
  }();
  (void)once;
}

inline void reap_exited_children() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

// Live `hades serve` processes for SOCKET (by their command line, which names the socket).
inline std::vector<pid_t> daemons_of(const std::string& socket) {
  std::vector<pid_t> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline;
    try {
      cmdline = read_text(entry.path() / "cmdline");
    } catch (const std::exception&) {
      continue;  // it exited while being read (libstdc++ throws ESRCH from the read)
    }
    std::vector<std::string> args;
    for (size_t start = 0; start < cmdline.size();) {
      const size_t end = cmdline.find('\0', start);
      args.push_back(cmdline.substr(start, end - start));
      start = end == std::string::npos ? cmdline.size() : end + 1;
    }
    const bool serves = args.size() >= 2 && args[1] == "serve";
    const bool ours = std::find(args.begin(), args.end(), socket) != args.end();
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (serves && ours && client::process_alive(pid)) pids.push_back(pid);
  }
  return pids;
}

// A private folder for one socket. At the end every daemon of the socket is stopped (SIGTERM,
// then SIGKILL) and reaped, so that a failing test leaves nothing running.
class ServiceSandbox {
 public:
  ServiceSandbox() {
    become_subreaper();
    char pattern[] = "/tmp/hades-cli-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~ServiceSandbox() {
    kill_daemons();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  ServiceSandbox(const ServiceSandbox&) = delete;
  ServiceSandbox& operator=(const ServiceSandbox&) = delete;

  const fs::path& dir() const { return dir_; }
  std::string socket() const { return (dir_ / "s.sock").string(); }
  std::string log() const { return read_text(socket() + ".log"); }

  // Options for a client of this socket; autostart off unless a test turns it on.
  ClientOptions options() const {
    ClientOptions options;
    options.socket_path = socket();
    options.autostart = false;
    options.start_timeout = 120s;
    options.stop_timeout = 120s;
    return options;
  }

  void kill_daemons() {
    for (const int signal_number : {SIGTERM, SIGKILL}) {
      for (const pid_t pid : daemons_of(socket())) ::kill(pid, signal_number);
      for (int i = 0; i < 3000 && !daemons_of(socket()).empty(); ++i) {
        reap_exited_children();
        std::this_thread::sleep_for(10ms);
      }
    }
    reap_exited_children();
  }

 private:
  fs::path dir_;
};

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
};

// `hades ARGS...` as a child, started at once; wait() collects it. Output goes to files, so that
// many can run at once without pipes filling up.
class HadesProcess {
 public:
  HadesProcess(const std::vector<std::string>& args, const fs::path& scratch,
               const std::string& stdin_text = "",
               const std::vector<std::pair<std::string, std::string>>& env = {}) {
    static int counter = 0;
    const std::string stem = (scratch / ("run" + std::to_string(counter++))).string();
    out_ = stem + ".out";
    err_ = stem + ".err";
    const std::string in = stem + ".in";
    std::ofstream(in) << stdin_text;
    std::vector<std::string> argv_strings = {HADES_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
      ::dup2(::open(in.c_str(), O_RDONLY), 0);
      ::dup2(::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
      ::dup2(::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
  }
  HadesProcess(const HadesProcess&) = delete;
  HadesProcess& operator=(const HadesProcess&) = delete;
  HadesProcess(HadesProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), out_(other.out_), err_(other.err_) {}
  ~HadesProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  RunResult wait(std::chrono::seconds timeout = 180s) {
    RunResult result;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        result.err = "timed out";
        return result;
      }
      std::this_thread::sleep_for(5ms);
    }
    pid_ = -1;
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    result.out = read_text(out_);
    result.err = read_text(err_);
    return result;
  }

 private:
  pid_t pid_ = -1;
  std::string out_;
  std::string err_;
};

inline RunResult run_hades(const std::vector<std::string>& args, const ServiceSandbox& sandbox,
                           const std::string& stdin_text = "",
                           const std::vector<std::pair<std::string, std::string>>& env = {}) {
  return HadesProcess(args, sandbox.dir(), stdin_text, env).wait();
}

// The test Hugging Face cache, for loads by model id.
inline void use_test_hf_cache() {
  ::setenv("HF_HUB_CACHE", HADES_TEST_HF_CACHE, 1);
}

constexpr const char* kMiniLmId = "sentence-transformers/all-MiniLM-L6-v2";

// A copy of the MiniLM folder (symlinks to its files) at DIR: a model with its own id (the path).
inline std::string minilm_copy(const fs::path& dir) {
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(minilm_dir())) {
    const fs::path target = fs::canonical(entry.path());
    if (fs::is_directory(target)) {
      fs::create_directory_symlink(target, dir / entry.path().filename());
    } else {
      fs::create_symlink(target, dir / entry.path().filename());
    }
  }
  return dir.string();
}

// One text of tests/data/minilm/reference.json with what sentence-transformers computed for it.
struct GoldenText {
  std::string text;
  std::vector<int64_t> input_ids;
  std::vector<float> embedding;
};

inline std::vector<GoldenText> minilm_golden() {
  const auto reference = nlohmann::json::parse(read_text(data_dir() / "minilm" / "reference.json"));
  std::vector<GoldenText> golden;
  for (size_t i = 0; i < reference["texts"].size(); ++i) {
    golden.push_back({reference["texts"][i].get<std::string>(),
                      reference["input_ids"][i].get<std::vector<int64_t>>(),
                      reference["embeddings"][i].get<std::vector<float>>()});
  }
  return golden;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30f;
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

}  // namespace hades::test
