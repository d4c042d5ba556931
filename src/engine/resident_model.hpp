// A model held by the service: the loaded model plus the bookkeeping the registry and the
// executor share. Requests hold a ModelLease; a model evicted while leased stays alive (and its
// memory counted) until the last lease ends.
#pragma once

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/scratch.hpp"
#include "hades/error.hpp"
#include "models/classifier_model.hpp"
#include "models/embedding_model.hpp"

namespace hades::runtime {

// Bytes of weights alive in the process, including evicted models that requests still hold.
class ResidentBytes {
 public:
  void add(uint64_t bytes) { bytes_ += bytes; }
  void remove(uint64_t bytes) { bytes_ -= bytes; }
  uint64_t get() const { return bytes_.load(); }

 private:
  std::atomic<uint64_t> bytes_{0};
};

// What a folder loads as: an embedding model (a bare encoder, with sentence-transformers pooling)
// or a classifier (an encoder with a sequence- or token-classification head).
struct ServedModel {
  std::unique_ptr<const EmbeddingModel> embedding;
  std::unique_ptr<const ClassifierModel> classifier;

  uint64_t weight_bytes() const {
    return embedding ? embedding->weight_bytes() : classifier->weight_bytes();
  }
  // config.json's model_type: "bert", "xlm-roberta", ...
  std::string model_type() const {
    return embedding ? embedding->encoder().architecture() : classifier->encoder().architecture();
  }
  std::string kind() const {
    if (embedding) return "embedding";
    return classifier->task() == ModelTask::token_classification ? "token-classification"
                                                                 : "sequence-classification";
  }
};

class ResidentModel {
 public:
  ResidentModel(std::string id, std::string device, ServedModel model,
                std::shared_ptr<ResidentBytes> accounting)
      : id_(std::move(id)),
        device_(std::move(device)),
        model_(std::move(model)),
        accounting_(std::move(accounting)) {
    accounting_->add(model_.weight_bytes());
  }
  ~ResidentModel() {
    accounting_->remove(model_.weight_bytes());
    model_ = ServedModel{};
    // glibc keeps freed memory in its heaps (its mmap threshold grows after large frees, so the
    // next model's tensors land on the heap), and the scratch pool keeps the forward passes'
    // activation memory; hand both back so that unloading shows in the RSS.
    Scratch::release_kept();
    malloc_trim(0);
  }
  ResidentModel(const ResidentModel&) = delete;
  ResidentModel& operator=(const ResidentModel&) = delete;

  const std::string& id() const { return id_; }
  const std::string& device() const { return device_; }
  const ServedModel& loaded() const { return model_; }
  std::string kind() const { return model_.kind(); }
  // The model as the task needs it; unsupported when it is the other kind.
  const EmbeddingModel& embedding() const {
    if (!model_.embedding) {
      throw Error(ErrorCode::unsupported, id_ + " is a " + kind() + " model; it does not embed");
    }
    return *model_.embedding;
  }
  const ClassifierModel& classifier() const {
    if (!model_.classifier) {
      throw Error(ErrorCode::unsupported,
                  id_ + " is an embedding model; it has no classification head");
    }
    return *model_.classifier;
  }
  uint64_t memory_bytes() const { return model_.weight_bytes(); }

  // The prompt an embed request without its own gets: the one a load named
  // (LoadModelOptions::default_prompt_name), else the model's config_sentence_transformers.json
  // one.
  std::optional<std::string> default_prompt_name() const {
    std::lock_guard lock(prompt_mutex_);
    if (load_default_prompt_name_ || !model_.embedding) return load_default_prompt_name_;
    return model_.embedding->default_prompt_name();
  }
  // NAME must be one of the embedding model's prompts (invalid_argument otherwise).
  void set_default_prompt_name(const std::string& name) {
    if (!embedding().has_prompt(name)) {
      throw Error(ErrorCode::invalid_argument,
                  "default_prompt_name '" + name + "' names no prompt of " + id_ +
                      " (its config_sentence_transformers.json lists the prompts)");
    }
    std::lock_guard lock(prompt_mutex_);
    load_default_prompt_name_ = name;
  }

  int64_t in_flight() const { return in_flight_.load(); }
  uint64_t requests() const { return requests_.load(); }
  double idle_seconds() const {
    const auto last = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_used_.load()));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - last).count();
  }
  void touch() { last_used_ = std::chrono::steady_clock::now().time_since_epoch().count(); }

  // The measured cost of a forward pass, in seconds per token (0 until its first batch): what the
  // executor prices the work queued on this model at when it decides whether to admit a request.
  double seconds_per_token() const { return seconds_per_token_.load(std::memory_order_relaxed); }
  // A moving average over batches: the cost per token shifts with batch size and machine load.
  // A model's first batch is left out: it pays one-time costs (oneDNN's kernels for the shapes,
  // first touches of buffers) that made a short batch's cost per token orders of magnitude too
  // high, and the queue priced the next requests by it.
  void record_batch(double seconds, int64_t tokens) {
    if (tokens <= 0 || !measured_once_.exchange(true)) return;
    const double sample = seconds / static_cast<double>(tokens);
    const double old = seconds_per_token();
    seconds_per_token_.store(old == 0 ? sample : 0.7 * old + 0.3 * sample,
                             std::memory_order_relaxed);
  }

 private:
  friend class ModelLease;
  std::string id_;
  std::string device_;
  ServedModel model_;
  std::shared_ptr<ResidentBytes> accounting_;
  mutable std::mutex prompt_mutex_;
  std::optional<std::string> load_default_prompt_name_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<double> seconds_per_token_{0};
  std::atomic<bool> measured_once_{false};
  std::atomic<int64_t> last_used_{std::chrono::steady_clock::now().time_since_epoch().count()};
};

// A request's hold on a model: counts it as in flight for its lifetime.
class ModelLease {
 public:
  explicit ModelLease(std::shared_ptr<ResidentModel> model) : model_(std::move(model)) {
    ++model_->in_flight_;
    ++model_->requests_;
    model_->touch();
  }
  ~ModelLease() {
    if (model_) {
      model_->touch();
      --model_->in_flight_;
    }
  }
  ModelLease(ModelLease&& other) noexcept = default;
  ModelLease& operator=(ModelLease&&) = delete;
  ModelLease(const ModelLease&) = delete;
  ModelLease& operator=(const ModelLease&) = delete;

  const ResidentModel& resident() const { return *model_; }
  const EmbeddingModel& embedding() const { return model_->embedding(); }
  const ClassifierModel& classifier() const { return model_->classifier(); }
  const std::shared_ptr<ResidentModel>& shared() const { return model_; }

 private:
  std::shared_ptr<ResidentModel> model_;
};

}  // namespace hades::runtime
