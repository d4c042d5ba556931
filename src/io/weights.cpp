#include "io/weights.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>
#include <system_error>

#include "core/dtype.hpp"
#include "hades/error.hpp"
#include "io/folder_path.hpp"
#include "io/json_file.hpp"

namespace hades {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps");

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";
constexpr std::size_t kMaxFilesNamed = 8;

std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < kMaxFilesNamed; ++i) {
    text += (i > 0 ? ", " : "") + names[i];
  }
  if (names.size() > kMaxFilesNamed) {
    text += " and " + std::to_string(names.size() - kMaxFilesNamed) + " more";
  }
  return text;
}

bool is_pickle_name(const std::filesystem::path& name) {
  static const std::set<std::string> kPickleExtensions = {".bin",  ".pt",  ".pth",
                                                          ".ckpt", ".pkl", ".pickle"};
  return kPickleExtensions.count(name.extension().string()) > 0;
}

// Called when the folder has neither model.safetensors nor an index: says what it has instead.
[[noreturn]] void fail_no_weights(const std::filesystem::path& dir) {
  std::vector<std::string> pickle_files;
  std::vector<std::string> other_safetensors;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::filesystem::path name = entry.path().filename();
    if (is_pickle_name(name)) pickle_files.push_back(name.string());
    if (name.extension() == ".safetensors") other_safetensors.push_back(name.string());
  }
  std::sort(pickle_files.begin(), pickle_files.end());
  std::sort(other_safetensors.begin(), other_safetensors.end());
  if (!pickle_files.empty() && other_safetensors.empty()) {
    throw Error(ErrorCode::unsupported,
                dir.string() + ": the folder has only pickle weights (" + join_names(pickle_files) +
                    "); hades refuses pickle, whose loading can run code, and loads only "
                    "safetensors (model.safetensors or model.safetensors.index.json)");
  }
  std::string found;
  if (!other_safetensors.empty()) found = "; it has " + join_names(other_safetensors);
  throw Error(ErrorCode::not_found, dir.string() + ": no model weights: expected " + kSingleFile +
                                        " or " + kIndexFile + found);
}

// Checks that a shard name from an index is a .safetensors file inside the model folder.
void check_shard_name(const std::string& index_source, const std::string& tensor,
                      const std::string& shard) {
  if (shard.empty() || !stays_inside_folder(shard)) {
    throw Error(ErrorCode::invalid_model, index_source + ": shard " + quote_for_message(shard) +
                                              " of tensor " + quote_for_message(tensor) +
                                              " is outside the model folder");
  }
  const std::filesystem::path path(shard);
  if (path.extension() != ".safetensors") {
    throw Error(ErrorCode::invalid_model, index_source + ": shard " + quote_for_message(shard) +
                                              " of tensor " + quote_for_message(tensor) +
                                              " is not a .safetensors file");
  }
}

// Reads the index's weight_map as shard name → tensors it must hold.
std::map<std::string, std::vector<std::string>> read_weight_map(const std::filesystem::path& path) {
  const nlohmann::json index = read_json_file(path, DuplicateKeys::reject);
  const JsonFields fields(index, path.string());
  const JsonFields weight_map = fields.get_object("weight_map");
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto& item : weight_map.json().items()) {
    if (!item.value().is_string()) {
      weight_map.fail(item.key(),
                      "must name a shard file, got " + describe_json_value(item.value()));
    }
    const std::string& shard = item.value().get_ref<const std::string&>();
    check_shard_name(path.string(), item.key(), shard);
    // "./a.safetensors" and "a.safetensors" are one file, to be mapped once.
    shards[std::filesystem::path(shard).lexically_normal().string()].push_back(item.key());
  }
  if (shards.empty()) fields.fail("weight_map", "lists no tensors");
  return shards;
}

WeightStore open_sharded(const std::filesystem::path& dir) {
  const std::filesystem::path index_path = dir / kIndexFile;
  const auto shards = read_weight_map(index_path);
  std::vector<SafetensorsFile> files;
  files.reserve(shards.size());
  for (const auto& [shard, tensors] : shards) {
    try {
      files.push_back(SafetensorsFile::open(dir / shard));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::not_found) throw;
      throw Error(ErrorCode::not_found,
                  index_path.string() + ": shard " + quote_for_message(shard) + " (holding " +
                      std::to_string(tensors.size()) + " tensors) is missing: " + e.what());
    }
    for (const std::string& tensor : tensors) {
      if (files.back().find(tensor) == nullptr) {
        throw Error(ErrorCode::invalid_model,
                    index_path.string() + ": tensor " + quote_for_message(tensor) +
                        " is listed in shard " + quote_for_message(shard) +
                        " but that file does not contain it");
      }
    }
  }
  return WeightStore::from_files(std::move(files));
}

}  // namespace

WeightStore WeightStore::open_folder(const std::filesystem::path& dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    throw Error(ErrorCode::not_found, dir.string() + ": model folder does not exist");
  }
  if (std::filesystem::exists(dir / kSingleFile, error)) {
    std::vector<SafetensorsFile> files;
    files.push_back(SafetensorsFile::open(dir / kSingleFile));
    return from_files(std::move(files));
  }
  if (std::filesystem::exists(dir / kIndexFile, error)) return open_sharded(dir);
  fail_no_weights(dir);
}

WeightStore WeightStore::from_files(std::vector<SafetensorsFile> files) {
  WeightStore store;
  store.files_ = std::move(files);
  for (std::size_t f = 0; f < store.files_.size(); ++f) {
    const std::vector<TensorEntry>& tensors = store.files_[f].tensors();
    for (std::size_t t = 0; t < tensors.size(); ++t) {
      const auto [it, inserted] = store.index_.try_emplace(tensors[t].name, f, t);
      if (!inserted) {
        throw Error(ErrorCode::invalid_model,
                    "tensor " + quote_for_message(tensors[t].name) +
                        " is in two shards: " + store.files_[it->second.first].source_name() +
                        " and " + store.files_[f].source_name());
      }
    }
  }
  return store;
}

const TensorEntry* WeightStore::find(std::string_view name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  return &files_[it->second.first].tensors()[it->second.second];
}

std::string WeightStore::describe_files() const {
  std::vector<std::string> names;
  for (const SafetensorsFile& file : files_) names.push_back(file.source_name());
  return names.empty() ? "no weight files" : join_names(names);
}

const TensorEntry& WeightStore::get(std::string_view name) const {
  const TensorEntry* tensor = find(name);
  if (tensor == nullptr) {
    throw Error(ErrorCode::invalid_model,
                "tensor " + quote_for_message(name) + " not found in " + describe_files());
  }
  return *tensor;
}

const std::string& WeightStore::source_of(std::string_view name) const {
  return files_[index_.find(name)->second.first].source_name();
}

const TensorEntry& WeightStore::get_float(std::string_view name,
                                          std::span<const std::int64_t> expected_shape) const {
  const TensorEntry& tensor = get(name);
  const auto prefix = [&] { return source_of(name) + ": tensor " + quote_for_message(name); };
  if (!is_loadable_float(tensor.dtype)) {
    throw Error(ErrorCode::invalid_model, prefix() + " has dtype " +
                                              std::string(dtype_name(tensor.dtype)) +
                                              ", expected a float type (F32, F16 or BF16)");
  }
  if (!std::equal(tensor.shape.begin(), tensor.shape.end(), expected_shape.begin(),
                  expected_shape.end())) {
    throw Error(ErrorCode::invalid_model, prefix() + " has shape " + format_shape(tensor.shape) +
                                              ", expected " + format_shape(expected_shape));
  }
  return tensor;
}

// Every tensor is converted once at load and the model keeps its own layout, so the file's pages
// of it are dropped right after: a load peaks at one copy of the weights, not the file and the
// copy (MiniLM: 198 → ~110 MiB).
void WeightStore::load_f32_into(std::string_view name, std::span<const std::int64_t> expected_shape,
                                std::span<float> out) const {
  convert_and_release(name, get_float(name, expected_shape), out);
}

void WeightStore::convert_and_release(std::string_view name, const TensorEntry& tensor,
                                      std::span<float> out) const {
  convert_to_f32(tensor, out);
  files_[index_.find(name)->second.first].release(tensor);
}

std::uint64_t WeightStore::total_bytes() const {
  std::uint64_t total = 0;
  for (const SafetensorsFile& file : files_) total += file.data_bytes();
  return total;
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> names;
  names.reserve(index_.size());
  for (const auto& item : index_) names.push_back(item.first);
  return names;
}

void convert_to_f32(const TensorEntry& tensor, std::span<float> out) {
  if (static_cast<std::uint64_t>(tensor.element_count()) != out.size() ||
      !is_loadable_float(tensor.dtype) ||
      tensor.bytes.size() != out.size() * dtype_size(tensor.dtype)) {
    throw Error(ErrorCode::invalid_argument,
                "convert_to_f32: tensor " + quote_for_message(tensor.name) + " of " +
                    std::string(dtype_name(tensor.dtype)) + format_shape(tensor.shape) +
                    " cannot be converted into " + std::to_string(out.size()) + " floats");
  }
  const std::byte* source = tensor.bytes.data();
  if (tensor.dtype == DType::f32) {
    if (!out.empty()) std::memcpy(out.data(), source, tensor.bytes.size());
    return;
  }
  // Two plain loops rather than one with a per-element branch, so that each vectorises.
  std::uint16_t bits = 0;
  if (tensor.dtype == DType::f16) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::memcpy(&bits, source + 2 * i, sizeof(bits));
      out[i] = f16_to_f32(bits);
    }
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::memcpy(&bits, source + 2 * i, sizeof(bits));
      out[i] = bf16_to_f32(bits);
    }
  }
}

}  // namespace hades
