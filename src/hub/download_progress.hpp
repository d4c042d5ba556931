// What a download tells its observer, and the totals of one pull kept for it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace hades {

struct DownloadEvent {
  enum class Kind { start, progress, file_done, done };
  Kind kind = Kind::progress;
  std::string model;
  std::string commit;
  std::string file;  // the file in transfer (progress, file_done)
  size_t files_total = 0;
  size_t files_done = 0;
  uint64_t total_bytes = 0;        // all the files fetched for the model
  uint64_t done_bytes = 0;         // of those, in the cache now (earlier runs' bytes included)
  uint64_t transferred_bytes = 0;  // received over the network by this call
};
// Called on the downloading thread; progress at most every 100 ms.
using DownloadObserver = std::function<void(const DownloadEvent& event)>;

namespace hub {

// Totals of one pull, told to the observer: every event, but progress at most every 100 ms.
class DownloadProgress {
 public:
  DownloadProgress(const DownloadObserver& observer, DownloadEvent totals)
      : observer_(observer), event_(std::move(totals)) {}

  void start() { emit(DownloadEvent::Kind::start); }
  void received(const std::string& file, uint64_t bytes, uint64_t file_bytes_on_disk) {
    event_.file = file;
    event_.transferred_bytes += bytes;
    current_file_bytes_ = file_bytes_on_disk;
    if (std::chrono::steady_clock::now() - last_ < std::chrono::milliseconds(100)) return;
    last_ = std::chrono::steady_clock::now();
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
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace hub
}  // namespace hades
