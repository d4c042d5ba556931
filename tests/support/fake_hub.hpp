// A fake Hugging Face hub for tests: tests/support/fake_hub.py as a child process on a loopback
// port, with the failure injection its flags offer, and the log of what it was asked and sent.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hades::test {

class FakeHub {
 public:
  // MODELS: "ORG/NAME=FOLDER" each; FLAGS: more fake_hub.py flags ("--cut", "x=0.5", ...).
  FakeHub(const std::filesystem::path& work_dir, const std::vector<std::string>& models,
          const std::vector<std::string>& flags = {})
      : log_(work_dir / "hub-log.jsonl") {
    const std::filesystem::path port_file = work_dir / "hub-port";
    std::filesystem::remove(port_file);
    std::vector<std::string> args = {"python3",          script().string(), "--port-file",
                                     port_file.string(), "--log",           log_.string()};
    for (const std::string& model : models) {
      args.push_back("--model");
      args.push_back(model);
    }
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execvp("python3", argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!std::filesystem::exists(port_file)) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("fake hub not up");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::ifstream in(port_file);
    in >> port_;
  }
  FakeHub(const FakeHub&) = delete;
  FakeHub& operator=(const FakeHub&) = delete;
  ~FakeHub() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

  static std::filesystem::path script() {
    return std::filesystem::path(HADES_TEST_DATA_DIR) / ".." / "support" / "fake_hub.py";
  }
  // "ORG/NAME=FOLDER" for a committed fixture model.
  static std::string fixture(const std::string& id, const std::string& folder) {
    return id + "=" + (std::filesystem::path(HADES_TEST_DATA_DIR) / "models" / folder).string();
  }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Every request so far: {method, path, host, range, auth, status, body_bytes}.
  std::vector<nlohmann::json> requests() const {
    // The hub logs a request once it has answered it, so the last line may lag the client a
    // little: wait until the log stops growing.
    std::error_code ec;
    for (uintmax_t size = 1, last = 0; size != last;) {
      last = size;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      size = std::filesystem::file_size(log_, ec);
    }
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  // Body bytes sent for GETs whose path ends with SUFFIX (a file name or an /lfs/ blob).
  uint64_t bytes_sent(const std::string& suffix) const {
    uint64_t total = 0;
    for (const auto& r : requests_matching("GET", suffix)) total += r["body_bytes"].get<uint64_t>();
    return total;
  }
  std::vector<nlohmann::json> requests_matching(const std::string& method,
                                                const std::string& suffix) const {
    std::vector<nlohmann::json> out;
    for (const auto& r : requests()) {
      const std::string path = r["path"];
      if (r["method"] == method && path.size() >= suffix.size() &&
          path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.push_back(r);
      }
    }
    return out;
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace hades::test
