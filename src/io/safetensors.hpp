// safetensors files: parsed with the format's full validation, data left in place (memory-mapped).
//
// Format (https://huggingface.co/docs/safetensors, reference parser huggingface/safetensors
// safetensors/src/tensor.rs): 8 bytes little-endian header length N, N bytes of UTF-8 JSON, then
// the data section. The JSON object maps tensor names to {"dtype", "shape", "data_offsets"} and may
// hold "__metadata__", a string-to-string map. Offsets are relative to the data section; the
// tensors, sorted by offset, must tile it exactly: no gap, no overlap, nothing after the last one.
// Data is little-endian, row-major ("C" order), and not necessarily aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.hpp"
#include "io/mapped_file.hpp"

namespace hades {

// One tensor of a safetensors file: a view of its bytes inside the file (or buffer) it came from.
struct TensorEntry {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;

  // The number of elements, the product of the shape (1 for a scalar, shape []).
  std::int64_t element_count() const;
};

// "[384, 1536]": a shape as it appears in error messages (very long shapes are cut).
std::string format_shape(std::span<const std::int64_t> shape);

class SafetensorsFile {
 public:
  // The limit of the reference implementation, which rejects longer headers.
  static constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

  // Maps `path` read-only and parses it. Throws Error not_found / io_error (see MappedFile::open)
  // or invalid_model naming the file and the problem.
  static SafetensorsFile open(const std::filesystem::path& path);

  // Parses a whole file held in memory. Copies nothing: the tensors' bytes point into `bytes`,
  // which must outlive the result. `source_name` names the file in error messages. Throws Error
  // invalid_model for anything the format does not allow; never reads outside `bytes`.
  static SafetensorsFile parse(std::span<const std::byte> bytes, std::string source_name);

  // The tensor called `name`, or nullptr.
  const TensorEntry* find(std::string_view name) const;
  // All tensors, in the order of their data in the file.
  const std::vector<TensorEntry>& tensors() const noexcept { return tensors_; }
  // The "__metadata__" map (empty when absent), e.g. {"format": "pt"}.
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  const std::string& source_name() const noexcept { return source_name_; }
  // The size of the JSON header and of the data section, in bytes.
  std::uint64_t header_bytes() const noexcept { return header_bytes_; }
  std::uint64_t data_bytes() const noexcept { return data_bytes_; }
  // Lets the OS drop the mapped pages of TENSOR (one of tensors()) once its data has been copied
  // out; a no-op for a file parsed from the caller's bytes. Its bytes stay readable.
  void release(const TensorEntry& tensor) const noexcept {
    if (mapping_) mapping_->release(tensor.bytes);
  }

 private:
  SafetensorsFile() = default;

  std::optional<MappedFile> mapping_;  // set by open(); parse() borrows the caller's bytes
  std::string source_name_;
  std::vector<TensorEntry> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;  // name → position in tensors_
  std::map<std::string, std::string> metadata_;
  std::uint64_t header_bytes_ = 0;
  std::uint64_t data_bytes_ = 0;
};

// Writes tensors in the safetensors format: header padded with spaces to a multiple of 8 bytes,
// data ordered by decreasing element size then name (as the reference writer does, so that every
// tensor stays aligned to its element size). Throws Error invalid_argument when a tensor's bytes
// do not match its dtype and shape, or two tensors share a name. For tests and fixtures.
std::vector<std::byte> encode_safetensors(std::span<const TensorEntry> tensors,
                                          const std::map<std::string, std::string>& metadata = {});

}  // namespace hades
