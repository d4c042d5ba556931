#include "engine/engine.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/cgroup.hpp"
#include "engine/executor.hpp"
#include "engine/registry.hpp"
#include "hades/error.hpp"
#include "io/weights.hpp"
#include "models/pooling.hpp"
#include "models/registry.hpp"

namespace hades {
namespace {

struct DeviceChoice {
  std::string device;
  std::string note;
};

bool is_cuda_name(const std::string& name) {
  return name == "cuda" || name.rfind("cuda:", 0) == 0;
}

// CUDA is not built in yet: a cuda default falls back to the CPU (and says so); an explicit cuda
// request on a load fails.
DeviceChoice resolve_default_device(const std::string& requested) {
  if (requested == "cpu") return {"cpu", ""};
  if (is_cuda_name(requested)) {
    return {"cpu", requested + " requested; CUDA is not built into this hades, using cpu"};
  }
  throw Error(ErrorCode::invalid_argument,
              "HADES_DEFAULT_DEVICE: unknown device '" + requested + "' (use cpu or cuda:N)");
}

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

std::vector<Encoding> tokenize_with(const ResidentModel& model,
                                    const std::vector<std::string>& inputs, bool truncate) {
  if (model.loaded().embedding) return model.loaded().embedding->tokenize(inputs, truncate);
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
void cut_dimensions(EmbedResult& result, int64_t dimensions, bool renormalize) {
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

// Runs WORK on the executor thread as one task of the lease's model, priced at the estimate it
// was admitted with, and returns what it returns. The caller waits for it, so WORK may refer to
// the caller's locals.
template <typename Work>
auto run_task(Executor& executor, Executor::Admission& admitted, const ModelLease& lease,
              const CancelFlag& cancelled, Work&& work) {
  std::optional<decltype(work())> result;
  ComputeTask task;
  task.model = lease.shared();
  task.estimated_tokens = admitted.estimated_tokens();
  task.cancelled = cancelled;
  task.work = [&] { result.emplace(work()); };
  executor.submit(std::move(task), std::move(admitted)).get();
  return std::move(*result);
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

  EngineConfig config;
  DeviceChoice device;
  std::atomic<int> loads_running{0};  // model loads laying out weights now; before executor
  ModelRegistry registry;
  Executor executor;
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

ModelInfo Engine::load_model(const std::string& model_id, const LoadOptions& options) {
  const Impl::RequestGuard guard(*impl_);
  check_explicit_device(options.device);
  impl_->registry.acquire(model_id, impl_->device.device, options.pin, parse_dtype(options.dtype));
  if (options.keep_alive) {
    impl_->registry.set_keep_alive(
        model_id, *options.keep_alive < std::chrono::milliseconds::zero()
                      ? std::nullopt
                      : std::optional<std::chrono::milliseconds>(*options.keep_alive));
  }
  for (ModelInfo& info : impl_->registry.list()) {
    if (info.id == model_id) return info;
  }
  throw Error(ErrorCode::conflict, model_id + " was evicted right after loading; retry");
}

void Engine::unload_model(const std::string& model_id) {
  impl_->registry.unload(model_id);
}

std::vector<ModelInfo> Engine::get_loaded_models() const {
  return impl_->registry.list();
}

EmbedResult Engine::embed(const EmbedRequest& request) {
  const Impl::RequestGuard guard(*impl_);
  if (request.inputs.empty()) throw Error(ErrorCode::invalid_argument, "inputs must not be empty");
  Executor::Admission admitted = impl_->executor.check_admission(estimated_tokens(request.inputs),
                                                                 queue_wait(request.wait_in_queue));
  const ModelLease lease(impl_->registry.acquire(request.model, impl_->device.device, false));
  const EmbeddingModel& model = lease.embedding();
  check_dimensions(request, model);
  const std::string prompt = model.prompt_for(request.prompt, request.prompt_name);
  std::vector<Encoding> encodings;
  if (prompt.empty()) {
    encodings = model.tokenize(request.inputs, request.truncate);
  } else {
    std::vector<std::string> prompted;
    for (const std::string& input : request.inputs) prompted.push_back(prompt + input);
    encodings = model.tokenize(prompted, request.truncate);
  }
  const std::vector<PoolingMode> modes =
      request.pooling ? std::vector<PoolingMode>{*request.pooling} : model.pooling_modes();
  // Split the request into jobs under the token budget; the executor batches jobs across requests.
  std::vector<EmbedJob> jobs;
  for (size_t first = 0; first < encodings.size();) {
    EmbedJob job;
    job.model = lease.shared();
    job.cancelled = request.cancelled;
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
  EmbedResult result;
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

TokenizeResult Engine::tokenize(const TokenizeRequest& request) {
  const Impl::RequestGuard guard(*impl_);
  if (request.inputs.empty()) throw Error(ErrorCode::invalid_argument, "inputs must not be empty");
  const ModelLease lease(impl_->registry.acquire(request.model, impl_->device.device, false));
  TokenizeResult result;
  result.model = request.model;
  if (request.add_special_tokens) {
    result.encodings = tokenize_with(lease.resident(), request.inputs, request.truncate);
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

ClassifyResult Engine::classify(const ClassifyRequest& request) {
  const Impl::RequestGuard guard(*impl_);
  if (request.inputs.empty()) throw Error(ErrorCode::invalid_argument, "inputs must not be empty");
  Executor::Admission admitted = impl_->executor.check_admission(
      estimated_tokens(request.inputs) + estimated_tokens(request.pairs),
      queue_wait(request.wait_in_queue));
  const ModelLease lease(impl_->registry.acquire(request.model, impl_->device.device, false));
  ClassifyResult result;
  result.model = request.model;
  result.results = run_task(impl_->executor, admitted, lease, request.cancelled, [&] {
    return lease.classifier().classify(request.inputs, request.pairs);
  });
  return result;
}

TokenClassifyResult Engine::token_classify(const TokenClassifyRequest& request) {
  const Impl::RequestGuard guard(*impl_);
  if (request.inputs.empty()) throw Error(ErrorCode::invalid_argument, "inputs must not be empty");
  Executor::Admission admitted = impl_->executor.check_admission(estimated_tokens(request.inputs));
  const ModelLease lease(impl_->registry.acquire(request.model, impl_->device.device, false));
  TokenClassifyResult result;
  result.model = request.model;
  result.entities = run_task(impl_->executor, admitted, lease, request.cancelled, [&] {
    std::vector<std::vector<TokenEntity>> entities;
    for (const std::string& text : request.inputs) {
      entities.push_back(lease.classifier().token_classify(text, {request.max_length}));
    }
    return entities;
  });
  return result;
}

ChunkResult Engine::chunk(const ChunkRequest& request) {
  const Impl::RequestGuard guard(*impl_);
  if (request.inputs.empty()) throw Error(ErrorCode::invalid_argument, "inputs must not be empty");
  Executor::Admission admitted = impl_->executor.check_admission(estimated_tokens(request.inputs));
  const ModelLease lease(impl_->registry.acquire(request.model, impl_->device.device, false));
  ChunkOptions options{request.max_length, request.clean, request.snap_to_whitespace};
  // chonky's ParagraphSplitter forces a 1024-token window for its ModernBERT and mmBERT models,
  // whose configs would allow 8192.
  static const std::vector<std::string> chonky_1024 = {"mirth/chonky_modernbert_base_1",
                                                       "mirth/chonky_modernbert_large_1",
                                                       "mirth/chonky_mmbert_small_multilingual_1"};
  if (!options.max_length &&
      std::find(chonky_1024.begin(), chonky_1024.end(), request.model) != chonky_1024.end()) {
    options.max_length = 1024;
  }
  ChunkResult result;
  result.model = request.model;
  result.results = run_task(impl_->executor, admitted, lease, request.cancelled, [&] {
    std::vector<Chunks> chunks;
    for (const std::string& text : request.inputs) {
      chunks.push_back(lease.classifier().chunk(text, options));
    }
    return chunks;
  });
  return result;
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
  s.queued_seconds = executor.queued_seconds;
  s.evictions = impl_->registry.evictions();
  s.expirations = impl_->registry.expirations();
  s.loads = impl_->registry.loads();
  s.load_failures = impl_->registry.load_failures();
  s.resident_bytes = impl_->registry.resident_bytes();
  return s;
}

bool Engine::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->drain_mutex);
  impl_->draining = true;
  return impl_->drained.wait_for(lock, timeout, [this] { return impl_->requests_in_flight == 0; });
}

std::string format_byte_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  auto value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

uint64_t parse_byte_size(const std::string& text, const std::string& what) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::string unit = text.substr(digits);
  unit.erase(0, unit.find_first_not_of(' '));
  static const std::pair<const char*, uint64_t> units[] = {{"", 1},
                                                           {"B", 1},
                                                           {"KB", 1000},
                                                           {"MB", 1000'000},
                                                           {"GB", 1000'000'000},
                                                           {"TB", 1000'000'000'000},
                                                           {"KiB", 1ull << 10},
                                                           {"MiB", 1ull << 20},
                                                           {"GiB", 1ull << 30},
                                                           {"TiB", 1ull << 40}};
  const auto* match = std::find_if(std::begin(units), std::end(units),
                                   [&](const auto& u) { return unit == u.first; });
  if (digits == 0 || digits > 15 || match == std::end(units)) {
    throw Error(ErrorCode::invalid_argument,
                what + ": '" + text + "' is not a size (e.g. 4GiB, 512MB, 1000000)");
  }
  const uint64_t number = std::stoull(text.substr(0, digits));
  if (number > UINT64_MAX / match->second) {
    throw Error(ErrorCode::invalid_argument, what + ": '" + text + "' is too large");
  }
  return number * match->second;
}

std::chrono::milliseconds parse_duration_ms(const std::string& text, const std::string& what) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  if (digits == 0 || digits > 9 || (unit != "" && unit != "ms" && unit != "s")) {
    throw Error(ErrorCode::invalid_argument,
                what + ": '" + text + "' is not a duration (e.g. 500ms, 2s, 0 for none)");
  }
  const int64_t number = std::stoll(text.substr(0, digits));
  return std::chrono::milliseconds(unit == "s" ? number * 1000 : number);
}

namespace {

std::string read_proc_self_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_keep_alive(const std::string& text,
                                                          const std::string& what) {
  const auto invalid = [&] {
    return Error(ErrorCode::invalid_argument,
                 what + ": '" + text +
                     "' is not a keep-alive (e.g. 5m, 30s, 1h, 250ms, 0 to unload after each "
                     "request, -1 for forever)");
  };
  const bool negative = !text.empty() && text[0] == '-';
  size_t digits = negative ? 1 : 0;
  const size_t first = digits;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == first || digits - first > 9) throw invalid();
  if (negative) {
    if (digits != text.size()) throw invalid();
    return std::nullopt;
  }
  const std::string unit = text.substr(digits);
  const int64_t number = std::stoll(text.substr(0, digits));
  int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  if (unit == "ms") scale = 1;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = 3'600'000;
  if (scale == 0) throw invalid();
  return std::chrono::milliseconds(number * scale);
}

EngineConfig engine_config_from_environment() {
  EngineConfig config;
  if (const char* v = std::getenv("HADES_MAX_MODELS"); v != nullptr) {
    const std::string text(v);
    const bool digits =
        !text.empty() && text.size() <= 6 && std::all_of(text.begin(), text.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        });
    if (!digits || std::stoul(text) == 0) {
      throw Error(ErrorCode::invalid_argument,
                  "HADES_MAX_MODELS: '" + text + "' is not a positive whole number");
    }
    config.max_models = std::stoul(text);
  }
  if (const char* v = std::getenv("HADES_MAX_MEMORY"); v != nullptr && *v != '\0') {
    config.max_memory_bytes = parse_byte_size(v, "HADES_MAX_MEMORY");
  } else if (const auto limit = cgroup_memory_limit("/sys/fs/cgroup", read_proc_self_cgroup())) {
    // In a container (or a unit with MemoryMax=), the weights stay under the cgroup's limit.
    config.max_memory_bytes = budget_under_memory_limit(*limit);
  }
  if (const char* v = std::getenv("HADES_MAX_QUEUE_DELAY"); v != nullptr && *v != '\0') {
    config.max_queue_delay = parse_duration_ms(v, "HADES_MAX_QUEUE_DELAY");
  }
  if (const char* v = std::getenv("HADES_KEEP_ALIVE"); v != nullptr && *v != '\0') {
    config.keep_alive = parse_keep_alive(v, "HADES_KEEP_ALIVE");
  }
  if (const char* v = std::getenv("HADES_DEFAULT_DEVICE"); v != nullptr && *v != '\0') {
    config.default_device = v;
    resolve_default_device(
        config.default_device);  // rejects unknown names now, naming the variable
  }
  return config;
}

}  // namespace hades
