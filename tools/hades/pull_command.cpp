// `hades pull MODEL`: downloads a model into the Hugging Face cache without loading it. It runs in
// this process (no service needed), so a pull works before `start` and beside a running service:
// both share the cache and its per-blob locks.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "engine/runtime.hpp"
#include "hub/downloader.hpp"

namespace hades::cli {
namespace {

struct PullArgs {
  std::string model;
  std::string revision = "main";
  bool json = false;
};

const char* kind_name(DownloadEvent::Kind kind) {
  switch (kind) {
    case DownloadEvent::Kind::start: return "start";
    case DownloadEvent::Kind::progress: return "progress";
    case DownloadEvent::Kind::file_done: return "file_done";
    case DownloadEvent::Kind::done: return "done";
  }
  return "progress";
}

// One JSON object per line on stdout, for programs.
void print_json_event(const DownloadEvent& event) {
  nlohmann::json line = {
      {"event", kind_name(event.kind)},   {"model", event.model},
      {"commit", event.commit},           {"files_done", event.files_done},
      {"files_total", event.files_total}, {"done_bytes", event.done_bytes},
      {"total_bytes", event.total_bytes}, {"transferred_bytes", event.transferred_bytes}};
  if (!event.file.empty()) line["file"] = event.file;
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
}

// A bar redrawn in place on a terminal (bytes, rate, ETA); plain lines per file otherwise.
class ProgressView {
 public:
  explicit ProgressView(bool terminal) : terminal_(terminal) {}

  void operator()(const DownloadEvent& event) {
    using Kind = DownloadEvent::Kind;
    if (event.kind == Kind::start) {
      started_ = Clock::now();
      std::fprintf(stderr, "pulling %s (commit %.12s): %zu files, %s\n", event.model.c_str(),
                   event.commit.c_str(), event.files_total,
                   runtime::format_byte_size(event.total_bytes).c_str());
    } else if (terminal_ && event.kind != Kind::done) {
      draw_bar(event);
    } else if (event.kind == Kind::file_done) {
      std::fprintf(stderr, "  %s (%zu/%zu, %s of %s)\n", event.file.c_str(), event.files_done,
                   event.files_total, runtime::format_byte_size(event.done_bytes).c_str(),
                   runtime::format_byte_size(event.total_bytes).c_str());
    }
    if (event.kind == Kind::done) {
      if (terminal_) std::fprintf(stderr, "\n");
      std::fprintf(stderr, "received %s\n",
                   runtime::format_byte_size(event.transferred_bytes).c_str());
    }
  }

 private:
  using Clock = std::chrono::steady_clock;

  void draw_bar(const DownloadEvent& event) {
    const double total = static_cast<double>(std::max<uint64_t>(event.total_bytes, 1));
    const double fraction = static_cast<double>(event.done_bytes) / total;
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count() + 1e-9;
    const double rate = static_cast<double>(event.transferred_bytes) / seconds;
    const double eta = rate > 0 ? (total - static_cast<double>(event.done_bytes)) / rate : 0;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '-');
    std::fprintf(stderr, "\r[%s] %3.0f%% %s/%s %s/s ETA %.0fs   ", bar.c_str(), fraction * 100,
                 runtime::format_byte_size(event.done_bytes).c_str(),
                 runtime::format_byte_size(event.total_bytes).c_str(),
                 runtime::format_byte_size(static_cast<uint64_t>(rate)).c_str(), eta);
    std::fflush(stderr);
  }

  bool terminal_;
  Clock::time_point started_ = Clock::now();
};

void run_pull(const PullArgs& args) {
  PullOptions options;
  options.revision = args.revision;
  if (args.json) {
    options.observer = print_json_event;
  } else {
    options.observer = ProgressView(::isatty(STDERR_FILENO) == 1);
  }
  const std::filesystem::path snapshot =
      pull_model(args.model, options, hub_settings_from_environment());
  if (args.json) {
    std::printf(
        "%s\n",
        nlohmann::json({{"event", "ready"}, {"model", args.model}, {"path", snapshot.string()}})
            .dump()
            .c_str());
  } else {
    std::printf("%s\n", snapshot.c_str());
  }
}

}  // namespace

void add_pull_command(CLI::App& app) {
  auto* pull = app.add_subcommand(
      "pull", "Download a model from the Hugging Face hub into its cache (without loading it)");
  auto args = std::make_shared<PullArgs>();
  pull->add_option("model", args->model, "model id, ORG/NAME")->required();
  pull->add_option("--revision", args->revision, "branch, tag or commit (main)");
  pull->add_flag("--json", args->json, "print progress events as JSON lines");
  pull->callback([args] { run_pull(*args); });
}

}  // namespace hades::cli
