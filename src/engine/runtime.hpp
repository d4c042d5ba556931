// hades::runtime, the in-process engine: the models a service holds and the work it runs on them.
// Its results carry the names of their public twins in include/hades/types.hpp (LoadedModel,
// EmbeddingResult, ...), which the server turns into the protocol's JSON.
//
// A ModelRegistry keeps loaded models under an LRU policy (by count, HADES_MAX_MODELS, and by
// bytes, HADES_MAX_MEMORY), with pins, reference counts (a model with requests in flight is freed
// only when its last request ends) and single-flight loads. One executor per device runs the
// inference requests: it takes queued requests for one model and batches them up to a token budget,
// so that many small concurrent requests become one large ragged batch.
//
// Every method is thread-safe and blocking; the server calls them from its worker threads.
// Errors are hades::Error with the codes of the protocol (model_not_found, input_invalid,
// overloaded, out_of_memory, conflict, shutting_down, ...).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/config.hpp"
#include "engine/engine_metrics.hpp"
#include "io/sentence_transformers.hpp"
#include "models/classifier_model.hpp"
#include "tokenizer/tokenizer.hpp"

namespace hades::runtime {

enum class ModelState { downloading, loading, ready, failed };
std::string_view model_state_name(ModelState state) noexcept;

struct LoadedModel {
  std::string id;
  ModelState state = ModelState::loading;
  std::string device;      // "cpu"
  std::string kind;        // "embedding", "sequence-classification" or "token-classification"
  std::string model_type;  // config.json's model_type ("bert", "xlm-roberta", ...); once loaded
  std::string dtype;       // the linear layers' precision: "fp32", "int8" or "bf16"
  std::vector<std::string> labels;   // classifiers' labels by id
  std::vector<PoolingMode> pooling;  // embedding models' own pooling
  uint64_t memory_bytes = 0;         // bytes the loaded weights occupy
  bool pinned = false;
  std::string error;                  // why, when state == failed
  uint64_t download_done_bytes = 0;   // while downloading: bytes in the cache
  uint64_t download_total_bytes = 0;  // while downloading: bytes of the files it needs
  int64_t dimension = 0;              // embedding width
  int64_t max_sequence_length = 0;
  uint64_t requests = 0;                                // requests served
  int64_t in_flight = 0;                                // requests running or queued now
  double idle_seconds = 0;                              // since last use
  std::optional<std::chrono::milliseconds> keep_alive;  // none: stays until evicted
  // The prompt an embed request without its own gets (the load's default_prompt_name, else the
  // model's config_sentence_transformers.json one); none: no prompt.
  std::optional<std::string> default_prompt_name;
};

struct LoadModelOptions {
  std::string device;  // empty: the default device
  bool pin = false;
  // The linear layers' precision: "fp32", "int8", "bf16" (invalid_argument on a CPU without it),
  // "auto" (bf16 where native, else fp32); empty: the loaded model's, else fp32. Another one than
  // the loaded model's is conflict naming it.
  std::string dtype;
  // How long the model stays after its last request ends, from now on: a negative duration is
  // forever, 0 unloads it after each request; none: as it was (at first, HADES_KEEP_ALIVE).
  std::optional<std::chrono::milliseconds> keep_alive;
  // The prompt (a name in the model's config_sentence_transformers.json prompts) that embed
  // requests without `prompt` or `prompt_name` get, from now on, in place of the config's own
  // default_prompt_name; invalid_argument when the model has no prompt of that name. None: as it
  // was (at first, the config's).
  std::optional<std::string> default_prompt_name;
};

// Set once whoever waits for a request has gone (the server: its client closed the connection):
// the request's work still queued is dropped instead of computed for nobody.
using CancelFlag = std::shared_ptr<const std::atomic<bool>>;

struct EmbedRequest {
  std::string model;
  std::vector<std::string> inputs;
  // Token ids in place of `inputs` (OpenAI's and TEI's token-id inputs): each input as the
  // model's own ids, special tokens included, taken as they are (nothing is added), as TEI and
  // vLLM take them. With a prompt, an input is decoded without its special tokens and embedded as
  // the prompt and that text, as TEI does.
  std::vector<std::vector<int32_t>> token_ids;
  std::optional<bool> normalize;       // default: the model's own (Normalize module)
  std::optional<PoolingMode> pooling;  // default: the model's own
  bool truncate = true;                // false: an overlong input is input_invalid
  // Which end truncation cuts: left keeps the last tokens (TEI's truncation_direction); the
  // special tokens stay, as HF tokenizers' enable_truncation(direction="left") keeps them.
  TruncationDirection truncation_direction = TruncationDirection::right;
  // Put before each input, as sentence-transformers' encode(prompt=, prompt_name=) does; neither:
  // the model's default prompt, if it has one.
  std::optional<std::string> prompt;
  std::optional<std::string> prompt_name;
  // Matryoshka: only the first N values of each row, normalized again when the rows are
  // normalized (sentence-transformers' truncate_dim, OpenAI's and TEI's `dimensions`).
  std::optional<int64_t> dimensions;
  // true: the request waits its turn however much work is queued ahead (the queue's length still
  // bounds it) instead of being refused past max_queue_delay: for clients of APIs that do not
  // expect a 429 from a local server and retry it only a few times (OpenAI's, TEI's).
  bool wait_in_queue = false;
  CancelFlag cancelled;  // may be null
};

struct EmbeddingResult {
  std::string model;
  int64_t dimension = 0;
  std::vector<float> values;  // [inputs, dimension]
  int64_t tokens = 0;
};

struct TokenizeRequest {
  std::string model;
  std::vector<std::string> inputs;
  bool add_special_tokens = true;
  bool truncate = true;
  TruncationDirection truncation_direction = TruncationDirection::right;  // as EmbedRequest's
};

struct DecodeRequest {
  std::string model;
  std::vector<int32_t> ids;
  bool skip_special_tokens = true;
};

struct TokenizationResult {
  std::string model;
  std::vector<Encoding> encodings;
};

struct ClassifyRequest {
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::string> pairs;  // empty, or one second text per input (reranking)
  bool wait_in_queue = false;      // as EmbedRequest's
  CancelFlag cancelled;            // may be null
};

struct ClassificationResult {
  std::string model;
  std::vector<Classification> results;  // one per input
};

struct TokenClassifyRequest {
  std::string model;
  std::vector<std::string> inputs;
  std::optional<int64_t> max_length;  // window length; default: the model's
  CancelFlag cancelled;               // may be null
};

struct TokenClassificationResult {
  std::string model;
  std::vector<std::vector<EntitySpan>> entities;  // per input
};

struct ChunkRequest {
  std::string model;
  std::vector<std::string> inputs;
  std::optional<int64_t> max_length;      // window length; default: the model's (chonky's rule)
  TextCleanup clean = TextCleanup::none;  // off by default, as chonky
  bool snap_to_whitespace = false;
  CancelFlag cancelled;  // may be null
};

struct ChunkingResult {
  std::string model;
  std::vector<ChunkedText> results;  // per input
};

struct EngineStats {
  std::string device;              // the resolved default device
  std::string device_note;         // e.g. "cuda:0 requested; CUDA is not built in, using cpu"
  uint64_t batches = 0;            // executor batches run
  uint64_t batched_requests = 0;   // requests those batches held
  uint64_t rejected_requests = 0;  // embed requests refused as overloaded by the executor
  uint64_t dropped_jobs = 0;       // queued jobs dropped because their caller had gone
  size_t queued_jobs = 0;          // executor jobs waiting now
  size_t queued_sequences = 0;     // the texts those jobs hold
  double queued_seconds = 0;       // the estimated work queued now
  uint64_t evictions = 0;
  uint64_t expirations = 0;  // models unloaded when their keep-alive passed
  uint64_t loads = 0;
  uint64_t load_failures = 0;
  uint64_t resident_bytes = 0;                       // weights of loaded models
  Histogram batch_sequences{kBatchSequenceBuckets};  // of the embedding batches run
  Histogram batch_tokens{kBatchTokenBuckets};
  RegistryStats registry;           // loads by outcome, unloads by reason
  std::vector<TaskStats> requests;  // per model and task
  double mean_batch_requests() const {
    return batches == 0 ? 0.0
                        : static_cast<double>(batched_requests) / static_cast<double>(batches);
  }
};

class Engine {
 public:
  explicit Engine(EngineConfig config);
  ~Engine();  // drains the executor, unloads every model
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads (or finds) a model and returns once it is ready; concurrent loads of one id share one
  // load. Evicts least recently used, unpinned, idle models to stay within the limits.
  LoadedModel load_model(const std::string& model_id, const LoadModelOptions& options = {});
  // Removes a model from the registry; its memory is released when its last request ends.
  // model_not_found when it is not loaded.
  void unload_model(const std::string& model_id);
  std::vector<LoadedModel> get_loaded_models() const;

  // Inference; a model that is not loaded is loaded first (as load_model with default options).
  EmbeddingResult embed(const EmbedRequest& request);
  TokenizationResult tokenize(const TokenizeRequest& request);
  // The text of token ids, as the model's tokenizer decodes them (HF Tokenizer.decode).
  std::string decode(const DecodeRequest& request);
  // Classifier models (a *ForSequenceClassification / *ForTokenClassification head): sequence
  // classification (and reranking with pairs), token classification, and chonky's chunking.
  ClassificationResult classify(const ClassifyRequest& request);
  TokenClassificationResult token_classify(const TokenClassifyRequest& request);
  ChunkingResult chunk(const ChunkRequest& request);

  EngineStats stats() const;
  const EngineConfig& config() const;
  // Where eviction messages go (the server's log); by default nowhere.
  void set_eviction_log(std::function<void(const std::string& message)> log);

  // Stops taking new requests (they fail with shutting_down); waits up to `timeout` for those in
  // flight to finish. Returns true when all finished.
  bool drain(std::chrono::milliseconds timeout);

 private:
  // embed() but for its metrics: TIMES receives what the executor measured of its jobs.
  EmbeddingResult embed(const EmbedRequest& request, const std::shared_ptr<WorkTimes>& times);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hades::runtime
