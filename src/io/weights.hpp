// The weights of one model folder: model.safetensors, or the shards a
// model.safetensors.index.json lists, memory-mapped and looked up by tensor name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/safetensors.hpp"

namespace hades {

class WeightStore {
 public:
  // Opens the weights of a Hugging Face model folder: model.safetensors when present, else the
  // shards of model.safetensors.index.json. Throws Error:
  //   not_found     the folder, or its weights, or a shard the index lists, does not exist;
  //   unsupported   the folder holds only pickle weights (*.bin, *.pt, *.pth, *.ckpt), which hades
  //                 refuses because loading pickle runs code;
  //   invalid_model a file is malformed, a shard lies outside the folder, a tensor the index
  //                 lists is missing from its shard, or a tensor is in two shards.
  static WeightStore open_folder(const std::filesystem::path& dir);

  // A store over files already parsed (the shards of one model). Throws invalid_model when a
  // tensor name appears in two of them.
  static WeightStore from_files(std::vector<SafetensorsFile> files);

  bool contains(std::string_view name) const { return find(name) != nullptr; }
  // The tensor called `name`, or nullptr.
  const TensorEntry* find(std::string_view name) const;
  // The tensor called `name`; throws invalid_model naming the tensor and the file(s) when absent.
  const TensorEntry& get(std::string_view name) const;

  // The tensor converted to float (from F32, F16 or BF16) into a new Array: std::vector<float>,
  // or PagedArray<float> for large tensors. Checks that its shape is `expected_shape` first;
  // throws invalid_model naming the file and the tensor when it is missing, has another dtype, or
  // has another shape.
  template <class Array = std::vector<float>>
  Array load_f32(std::string_view name, std::span<const std::int64_t> expected_shape) const {
    const TensorEntry& tensor = get_float(name, expected_shape);
    Array values(static_cast<std::size_t>(tensor.element_count()));
    convert_and_release(name, tensor, std::span<float>(values.data(), values.size()));
    return values;
  }
  template <class Array = std::vector<float>>
  Array load_f32(std::string_view name, std::initializer_list<std::int64_t> expected_shape) const {
    return load_f32<Array>(
        name, std::span<const std::int64_t>(expected_shape.begin(), expected_shape.size()));
  }
  // As load_f32, writing into `out`, which must hold exactly as many floats as the tensor has.
  void load_f32_into(std::string_view name, std::span<const std::int64_t> expected_shape,
                     std::span<float> out) const;

  // The tensor, checked to be F32/F16/BF16 with shape `expected_shape` (as load_f32 checks it).
  const TensorEntry& get_float(std::string_view name,
                               std::span<const std::int64_t> expected_shape) const;

  // The bytes of tensor data across all files (what the model occupies when fully paged in).
  std::uint64_t total_bytes() const;
  std::size_t tensor_count() const noexcept { return index_.size(); }
  // All tensor names, sorted.
  std::vector<std::string> names() const;
  const std::vector<SafetensorsFile>& files() const noexcept { return files_; }

 private:
  WeightStore() = default;
  // The file that holds `tensor`, for naming it in errors.
  const std::string& source_of(std::string_view name) const;
  // Converts TENSOR (checked by get_float) into `out`, then drops the file's pages of it.
  void convert_and_release(std::string_view name, const TensorEntry& tensor,
                           std::span<float> out) const;
  std::string describe_files() const;

  std::vector<SafetensorsFile> files_;
  // name → (index into files_, index into that file's tensors())
  std::map<std::string, std::pair<std::size_t, std::size_t>, std::less<>> index_;
};

// Converts the data of an F32, F16 or BF16 tensor to float. `out` must hold exactly
// tensor.element_count() floats. Reads the bytes with memcpy: data in a mapped file need not be
// aligned. Throws Error invalid_argument on another dtype or a wrong `out` size.
void convert_to_f32(const TensorEntry& tensor, std::span<float> out);

}  // namespace hades
