#include "engine/runtime.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/executor.hpp"
#include "engine/registry.hpp"
#include "hades/error.hpp"
#include "io/weights.hpp"
#include "models/pooling.hpp"
#include "models/registry.hpp"

namespace hades::runtime {
namespace {

// A load's dtype: none when empty; "auto" is bf16 where the CPU has it, else fp32.
std::optional<LinearPrecision> parse_dtype(const std::string& dtype) {
  if (dtype.empty()) return std::nullopt;
  const bool native_bf16 = cpu_precision_unavailable(LinearPrecision::bf16).empty();
  if (dtype == "fp32") return LinearPrecision::fp32;
  if (dtype == "int8") return LinearPrecision::int8;
  if (dtype == "auto") return native_bf16 ? LinearPrecision::bf16 : LinearPrecision::fp32;
  if (dtype == "bf16") {
    if (!native_bf16) {
      throw Error(ErrorCode::invalid_argument, cpu_precision_unavailable(LinearPrecision::bf16));
    }
    return LinearPrecision::bf16;
  }
  throw Error(ErrorCode::invalid_argument,
              "unknown dtype '" + dtype + "' (use fp32, int8, bf16 or auto)");
}

void check_explicit_device(const std::string& device) {
  if (device.empty() || device == "cpu") return;
  if (is_cuda_name(device)) {
    throw Error(
        ErrorCode::unsupported,
        "device " + device + " is not available: CUDA is not built into this hades; use cpu");
  }
  throw Error(ErrorCode::invalid_argument, "unknown device '" + device + "' (use cpu or cuda:N)");
}

// The bytes a model will hold: every float tensor of its weights as float32.
uint64_t estimate_model_bytes(const std::filesystem::path& folder) {
  const std::optional<SentenceTransformerConfig> st = read_sentence_transformer_config(folder);
  const WeightStore weights = WeightStore::open_folder(st ? st->transformer_dir : folder);
  uint64_t total = 0;
  for (const std::string& name : weights.names()) {
    const TensorEntry& t = weights.get(name);
    if (is_loadable_float(t.dtype)) total += static_cast<uint64_t>(t.element_count()) * 4;
  }
  return total;
}

const Tokenizer& tokenizer_of(const ResidentModel& model) {
  const ServedModel& loaded = model.loaded();
  return loaded.embedding ? loaded.embedding->tokenizer() : loaded.classifier->tokenizer();
}

// An embedding model's encodings as embed() computes them; a classifier's whole (its tasks cut
// windows of their own).
std::vector<Encoding> tokenize_with(const ResidentModel& model, const TokenizeRequest& request) {
  const std::vector<std::string>& inputs = request.inputs;
  if (model.loaded().embedding) {
    return model.loaded().embedding->tokenize(inputs, request.truncate,
                                              request.truncation_direction);
  }
  std::vector<Encoding> encodings;
  for (const std::string& text : inputs) {
    encodings.push_back(tokenizer_of(model).encode(text));
    encodings.back().overflowing.clear();
  }
  return encodings;
}

// A request's `dimensions` against the rows it will get, before any work is done.
void check_dimensions(const EmbedRequest& request, const EmbeddingModel& model) {
  if (!request.dimensions) return;
  const int64_t width = request.pooling ? model.encoder().hidden_size() : model.dimension();
  if (*request.dimensions < 1 || *request.dimensions > width) {
    // A valid request that this model cannot take (input_invalid, as an overlong input is): the
    // request alone cannot tell how many dimensions a model id's rows have.
    throw Error(ErrorCode::input_invalid, "dimensions " + std::to_string(*request.dimensions) +
                                              " must be from 1 to the " + std::to_string(width) +
                                              " of " + request.model);
  }
}

// Keeps the first DIMENSIONS values of each row; RENORMALIZE makes them unit length again, as
// torch.nn.functional.normalize does (a zero row stays zero).
void cut_dimensions(EmbeddingResult& result, int64_t dimensions, bool renormalize) {
  const auto width = static_cast<size_t>(result.dimension);
  const auto kept = static_cast<size_t>(dimensions);
  const size_t rows = width == 0 ? 0 : result.values.size() / width;
  std::vector<float> cut(rows * kept);
  for (size_t r = 0; r < rows; ++r) {
    std::copy_n(result.values.begin() + static_cast<std::ptrdiff_t>(r * width), kept,
                cut.begin() + static_cast<std::ptrdiff_t>(r * kept));
  }
  if (renormalize) normalize_rows(cut, dimensions);
  result.values = std::move(cut);
  result.dimension = dimensions;
}

int64_t id_count(const std::vector<std::vector<int32_t>>& token_ids) {
  int64_t count = 0;
  for (const auto& ids : token_ids) count += static_cast<int64_t>(ids.size());
  return count;
}

// Input INDEX's token ids against the model's vocabulary: input_invalid naming the input (valid
// ids for another model, as an overlong text is a valid input for a longer one).
void check_token_ids(const std::vector<int32_t>& ids, size_t index, const EmbeddingModel& model,
                     const std::string& model_id) {
  const std::string input = "input " + std::to_string(index);
  if (ids.empty()) throw Error(ErrorCode::invalid_argument, input + " holds no token ids");
  const auto vocab = static_cast<int64_t>(model.tokenizer().vocab_size());
  const auto outside =
      std::find_if(ids.begin(), ids.end(), [&](int32_t id) { return id < 0 || id >= vocab; });
  if (outside != ids.end()) {
    throw Error(ErrorCode::input_invalid, input + ": token id " + std::to_string(*outside) +
                                              " is not in the vocabulary of " + model_id +
                                              " (ids 0 to " + std::to_string(vocab - 1) + ")");
  }
}

// Input INDEX's checked token ids as an encoding; an overlong one is cut at the end the request
// names when it truncates, else refused (the caller's own tokenization: cutting it unasked would
// drop its closing special token).
Encoding encoding_of_ids(std::vector<int32_t> ids, size_t index, const EmbeddingModel& model,
                         const EmbedRequest& request) {
  const std::string input = "input " + std::to_string(index);
  const auto limit = static_cast<size_t>(model.max_sequence_length());
  if (ids.size() > limit && !request.truncate) {
    throw Error(ErrorCode::input_invalid, input + " has " + std::to_string(ids.size()) +
                                              " tokens; " + request.model + " accepts at most " +
                                              std::to_string(limit));
  }
  if (ids.size() > limit) {
    const bool left = request.truncation_direction == TruncationDirection::left;
    ids.erase(left ? ids.begin() : ids.begin() + static_cast<std::ptrdiff_t>(limit),
              left ? ids.end() - static_cast<std::ptrdiff_t>(limit) : ids.end());
  }
  Encoding encoding;
  encoding.type_ids.assign(ids.size(), 0);
  encoding.attention_mask.assign(ids.size(), 1);
  encoding.special_tokens_mask.assign(ids.size(), 0);
  encoding.ids = std::move(ids);
  return encoding;
}

// The encodings an embed request runs: its texts (or, with a prompt, its token ids decoded
// without their special tokens, as TEI does) after the prompt, or its token ids as they are. The
// prompt: the request's own, else its prompt_name, else the model's default (a load's, else the
// config's).
std::vector<Encoding> encode_embed_inputs(const EmbedRequest& request,
                                          const ResidentModel& resident) {
  const EmbeddingModel& model = resident.embedding();
  const std::string prompt = model.prompt_for(
      request.prompt, request.prompt_name ? request.prompt_name : resident.default_prompt_name());
  for (size_t i = 0; i < request.token_ids.size(); ++i) {
    check_token_ids(request.token_ids[i], i, model, request.model);
  }
  if (prompt.empty() && !request.token_ids.empty()) {
    std::vector<Encoding> encodings;
    for (size_t i = 0; i < request.token_ids.size(); ++i) {
      encodings.push_back(encoding_of_ids(request.token_ids[i], i, model, request));
    }
    return encodings;
  }
  std::vector<std::string> texts;
  for (const std::vector<int32_t>& ids : request.token_ids) {
    texts.push_back(prompt + model.tokenizer().decode(ids, true));
  }
  for (const std::string& input : request.inputs) texts.push_back(prompt + input);
  return model.tokenize(texts, request.truncate, request.truncation_direction);
}

Executor::QueueWait queue_wait(bool wait_in_queue) {
  return wait_in_queue ? Executor::QueueWait::unbounded : Executor::QueueWait::bounded;
}

// The tokens a request will run, from its text before it is tokenized (about four bytes a token
// in English prose): the price of its reservation at admission, and of a classification or
// chunking task. It only prices the queue: a model's measured cost is kept per estimated token
// for tasks, which corrects for the estimate's bias.
int64_t estimated_tokens(const std::vector<std::string>& texts) {
  int64_t bytes = 0;
  for (const std::string& text : texts) bytes += static_cast<int64_t>(text.size());
  return bytes / 4 + static_cast<int64_t>(texts.size());
}

}  // namespace

std::string_view model_state_name(ModelState state) noexcept {
  switch (state) {
    case ModelState::downloading: return "downloading";
    case ModelState::loading: return "loading";
    case ModelState::ready: return "ready";
    case ModelState::failed: return "failed";
  }
  return "failed";
}

struct Engine::Impl {
  explicit Impl(EngineConfig c)
      : config(std::move(c)),
        device(resolve_default_device(config.default_device)),
        registry(RegistryLimits{.max_models = config.max_models,
                                .max_memory_bytes = config.max_memory_bytes,
                                .failure_cooldown = config.failure_cooldown,
                                .keep_alive = config.keep_alive},
                 make_hooks()),
        executor(ExecutorLimits{config.max_batch_tokens, config.max_queued_requests,
                                config.max_queue_delay},
                 &loads_running) {}

  RegistryHooks make_hooks() {
    if (!config.resolve_model) {
      config.resolve_model = [](const std::string& id, const EngineConfig::DownloadProgress&) {
        return std::filesystem::path(id);
      };
    }
    RegistryHooks hooks;
    hooks.load = [this](const std::string& id, LinearPrecision precision) {
      const std::filesystem::path folder = resolve(id);
      ServedModel model;
      ++loads_running;  // after resolve: a download leaves the cores to the batches
      const struct Done {
        std::atomic<int>& count;
        ~Done() { --count; }
      } done{loads_running};
      if (read_model_task(folder) == ModelTask::base) {
        model.embedding = EmbeddingModel::load(folder, {.precision = precision});
      } else {
        model.classifier = ClassifierModel::load(folder, {.precision = precision});
      }
      return model;
    };
    hooks.estimate_bytes = [this](const std::string& id) {
      return estimate_model_bytes(resolve(id));
    };
    return hooks;
  }

  // The first resolve of a model not in the cache downloads it; its bytes show in the registry.
  std::filesystem::path resolve(const std::string& id) {
    return config.resolve_model(id, [this, id](uint64_t done, uint64_t total) {
      registry.report_download(id, done, total);
    });
  }

  // Counts a request in flight for drain(); refuses new ones once draining.
  class RequestGuard {
   public:
    explicit RequestGuard(Impl& impl) : impl_(impl) {
      std::lock_guard lock(impl_.drain_mutex);
      if (impl_.draining) {
        throw Error(ErrorCode::shutting_down, "the service is shutting down");
      }
      ++impl_.requests_in_flight;
    }
    ~RequestGuard() {
      std::lock_guard lock(impl_.drain_mutex);
      if (--impl_.requests_in_flight == 0) impl_.drained.notify_all();
    }
    RequestGuard(const RequestGuard&) = delete;
    RequestGuard& operator=(const RequestGuard&) = delete;

   private:
    Impl& impl_;
  };

  // Runs one inference request of TASK on MODEL, WORK(times), and counts it in the per-model
  // metrics however it ends; queue and inference times only of requests that succeed (a failed
  // request's other jobs may still be running).
  template <typename Work>
  auto measured(EngineTask task, const std::string& model, Work&& work) {
    const auto start = std::chrono::steady_clock::now();
    const auto times = std::make_shared<WorkTimes>();
    const auto count = [&](std::string_view outcome, bool ran) {
      const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
      request_metrics.record({.model = model,
                              .model_known = ran || registry.holds_ready(model),
                              .task = task,
                              .outcome = outcome,
                              .seconds = seconds.count(),
                              .times = ran ? times.get() : nullptr});
    };
    try {
      auto result = work(times);
      count("ok", true);
      return result;
    } catch (const Error& e) {
      count(error_code_name(e.code()), false);
      throw;
    } catch (...) {
      count(error_code_name(ErrorCode::internal), false);
      throw;
    }
  }

  // A classification, token classification or chunking request, run as one executor task:
  // refused while draining, its inputs checked, admitted at ESTIMATE tokens, its model leased
  // (loaded first if needed), WORK(lease) run on the executor thread, the whole counted as TASK.
  // The request waits for its task, so WORK may refer to the caller's locals.
  template <typename Request, typename Work>
  auto run_as_task(EngineTask task, const Request& request, int64_t estimate, Work&& work) {
    return measured(task, request.model, [&](const std::shared_ptr<WorkTimes>& times) {
      const RequestGuard guard(*this);
      if (request.inputs.empty()) {
        throw Error(ErrorCode::invalid_argument, "inputs must not be empty");
      }
      bool wait_in_queue = false;
      if constexpr (requires { request.wait_in_queue; }) wait_in_queue = request.wait_in_queue;
      Executor::Admission admitted = executor.check_admission(estimate, queue_wait(wait_in_queue));
      const ModelLease lease(registry.acquire(request.model, device.device, false));
      std::optional<decltype(work(lease))> result;
      ComputeTask run;
      run.model = lease.shared();
      run.estimated_tokens = admitted.estimated_tokens();
      run.sequences = request.inputs.size();
      run.cancelled = request.cancelled;
      run.times = times;
      run.work = [&] { result.emplace(work(lease)); };
      executor.submit(std::move(run), std::move(admitted)).get();
      return std::move(*result);
    });
  }

  EngineConfig config;
  DeviceChoice device;
  std::atomic<int> loads_running{0};  // model loads laying out weights now; before executor
  ModelRegistry registry;
  Executor executor;
  RequestMetrics request_metrics;
  std::mutex drain_mutex;
  std::condition_variable drained;
  int64_t requests_in_flight = 0;
  bool draining = false;

  // Unloads models whose keep-alive has passed, a few times a second, until told to stop.
  void expire_models() {
    std::unique_lock lock(reaper_mutex);
    while (!reaper_stop) {
      reaper_wake.wait_for(lock, std::chrono::milliseconds(100));
      if (reaper_stop) break;
      lock.unlock();
      registry.expire_idle();
      lock.lock();
    }
  }
  std::mutex reaper_mutex;
  std::condition_variable reaper_wake;
  bool reaper_stop = false;
  std::thread reaper;  // last: started when the rest is built, joined before it goes
};

Engine::Engine(EngineConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  impl_->reaper = std::thread([impl = impl_.get()] { impl->expire_models(); });
}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->reaper_mutex);
    impl_->reaper_stop = true;
  }
  impl_->reaper_wake.notify_all();
  impl_->reaper.join();
  drain(std::chrono::milliseconds(0));
  impl_->registry.clear();
}

const EngineConfig& Engine::config() const {
  return impl_->config;
}

void Engine::set_eviction_log(std::function<void(const std::string&)> log) {
  impl_->registry.set_eviction_log(std::move(log));
}

LoadedModel Engine::load_model(const std::string& model_id, const LoadModelOptions& options) {
  const Impl::RequestGuard guard(*impl_);
  check_explicit_device(options.device);
  const std::shared_ptr<ResidentModel> model = impl_->registry.acquire(
      model_id, impl_->device.device, options.pin, parse_dtype(options.dtype));
  if (options.default_prompt_name) model->set_default_prompt_name(*options.default_prompt_name);
  if (options.keep_alive) {
    impl_->registry.set_keep_alive(
        model_id, *options.keep_alive < std::chrono::milliseconds::zero()
                      ? std::nullopt
                      : std::optional<std::chrono::milliseconds>(*options.keep_alive));
  }
  for (LoadedModel& info : impl_->registry.list()) {
    if (info.id == model_id) return info;
  }
  throw Error(ErrorCode::conflict, model_id + " was evicted right after loading; retry");
}

void Engine::unload_model(const std::string& model_id) {
  impl_->registry.unload(model_id);
}

std::vector<LoadedModel> Engine::get_loaded_models() const {
  return impl_->registry.list();
}

EmbeddingResult Engine::embed(const EmbedRequest& request) {
  return impl_->measured(
      EngineTask::embed, request.model,
      [&](const std::shared_ptr<WorkTimes>& times) { return embed(request, times); });
}

EmbeddingResult Engine::embed(const EmbedRequest& request,
                              const std::shared_ptr<WorkTimes>& times) {
  const Impl::RequestGuard guard(*impl_);
  if (request.inputs.empty() == request.token_ids.empty()) {
    throw Error(ErrorCode::invalid_argument, request.inputs.empty()
                                                 ? "inputs must not be empty"
                                                 : "give texts or token ids, not both");
  }
  Executor::Admission admitted = impl_->executor.check_admission(
      estimated_tokens(request.inputs) + id_count(request.token_ids),
      queue_wait(request.wait_in_queue));
  const ModelLease lease(impl_->registry.acquire(request.model, impl_->device.device, false));
  const EmbeddingModel& model = lease.embedding();
  check_dimensions(request, model);
  std::vector<Encoding> encodings = encode_embed_inputs(request, lease.resident());
  const std::vector<PoolingMode> modes =
      request.pooling ? std::vector<PoolingMode>{*request.pooling} : model.pooling_modes();
  // Split the request into jobs under the token budget; the executor batches jobs across requests.
  std::vector<EmbedJob> jobs;
  for (size_t first = 0; first < encodings.size();) {
    EmbedJob job;
    job.model = lease.shared();
    job.cancelled = request.cancelled;
    job.times = times;
    job.modes = modes;
    job.normalize = request.normalize.value_or(model.normalizes());
    int64_t tokens = 0;
    while (first < encodings.size() &&
           (job.encodings.empty() || tokens + static_cast<int64_t>(encodings[first].size()) <=
                                         impl_->config.max_batch_tokens)) {
      tokens += static_cast<int64_t>(encodings[first].size());
      job.encodings.push_back(std::move(encodings[first++]));
    }
    jobs.push_back(std::move(job));
  }
  std::vector<std::future<Embeddings>> parts =
      impl_->executor.submit(std::move(jobs), std::move(admitted));
  EmbeddingResult result;
  result.model = request.model;
  for (auto& part : parts) {
    Embeddings e = part.get();
    result.dimension = e.dimension;
    result.values.insert(result.values.end(), e.values.begin(), e.values.end());
    result.tokens += e.tokens;
  }
  if (request.dimensions) {
    cut_dimensions(result, *request.dimensions, request.normalize.value_or(model.normalizes()));
  }
  return result;
}

TokenizationResult Engine::tokenize(const TokenizeRequest& request) {
  const Impl::RequestGuard guard(*impl_);
  if (request.inputs.empty()) throw Error(ErrorCode::invalid_argument, "inputs must not be empty");
  const ModelLease lease(impl_->registry.acquire(request.model, impl_->device.device, false));
  TokenizationResult result;
  result.model = request.model;
  if (request.add_special_tokens) {
    result.encodings = tokenize_with(lease.resident(), request);
  } else {
    for (const std::string& text : request.inputs) {
      result.encodings.push_back(tokenizer_of(lease.resident()).encode(text, false));
    }
  }
  return result;
}

std::string Engine::decode(const DecodeRequest& request) {
  const Impl::RequestGuard guard(*impl_);
  const ModelLease lease(impl_->registry.acquire(request.model, impl_->device.device, false));
  return tokenizer_of(lease.resident()).decode(request.ids, request.skip_special_tokens);
}

ClassificationResult Engine::classify(const ClassifyRequest& request) {
  const EngineTask task = request.pairs.empty() ? EngineTask::classify : EngineTask::rerank;
  const int64_t estimate = estimated_tokens(request.inputs) + estimated_tokens(request.pairs);
  return {request.model, impl_->run_as_task(task, request, estimate, [&](const ModelLease& lease) {
            return lease.classifier().classify(request.inputs, request.pairs);
          })};
}

TokenClassificationResult Engine::token_classify(const TokenClassifyRequest& request) {
  const int64_t estimate = estimated_tokens(request.inputs);
  return {request.model,
          impl_->run_as_task(
              EngineTask::token_classify, request, estimate, [&](const ModelLease& lease) {
                std::vector<std::vector<EntitySpan>> entities;
                for (const std::string& text : request.inputs) {
                  entities.push_back(lease.classifier().token_classify(text, {request.max_length}));
                }
                return entities;
              })};
}

namespace {

// chonky's ParagraphSplitter forces a 1024-token window for its ModernBERT and mmBERT models,
// whose configs would allow 8192.
ChunkingOptions chunk_options(const ChunkRequest& request) {
  ChunkingOptions options{request.max_length, request.clean, request.snap_to_whitespace};
  static const std::vector<std::string> chonky_1024 = {"mirth/chonky_modernbert_base_1",
                                                       "mirth/chonky_modernbert_large_1",
                                                       "mirth/chonky_mmbert_small_multilingual_1"};
  if (!options.max_length &&
      std::find(chonky_1024.begin(), chonky_1024.end(), request.model) != chonky_1024.end()) {
    options.max_length = 1024;
  }
  return options;
}

}  // namespace

ChunkingResult Engine::chunk(const ChunkRequest& request) {
  const ChunkingOptions options = chunk_options(request);
  const int64_t estimate = estimated_tokens(request.inputs);
  return {request.model,
          impl_->run_as_task(EngineTask::chunk, request, estimate, [&](const ModelLease& lease) {
            std::vector<ChunkedText> chunks;
            for (const std::string& text : request.inputs) {
              chunks.push_back(lease.classifier().chunk(text, options));
            }
            return chunks;
          })};
}

EngineStats Engine::stats() const {
  const ExecutorStats executor = impl_->executor.stats();
  EngineStats s;
  s.device = impl_->device.device;
  s.device_note = impl_->device.note;
  s.batches = executor.batches;
  s.batched_requests = executor.batched_jobs;
  s.rejected_requests = executor.rejected;
  s.dropped_jobs = executor.dropped;
  s.queued_jobs = executor.queued;
  s.queued_sequences = executor.queued_sequences;
  s.queued_seconds = executor.queued_seconds;
  s.batch_sequences = executor.batch_sequences;
  s.batch_tokens = executor.batch_tokens;
  s.registry = impl_->registry.stats();
  s.evictions = s.registry.evictions();
  s.expirations = s.registry.unloads[static_cast<size_t>(UnloadReason::keep_alive)];
  s.loads = s.registry.loads(LoadOutcome::loaded);
  s.load_failures = s.registry.loads(LoadOutcome::failed);
  s.resident_bytes = impl_->registry.resident_bytes();
  s.requests = impl_->request_metrics.snapshot();
  return s;
}

bool Engine::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->drain_mutex);
  impl_->draining = true;
  return impl_->drained.wait_for(lock, timeout, [this] { return impl_->requests_in_flight == 0; });
}

}  // namespace hades::runtime
