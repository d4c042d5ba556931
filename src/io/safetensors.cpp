#include "io/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include <nlohmann/json.hpp>

#include "hades/error.hpp"
#include "io/json_file.hpp"

namespace hades {

using nlohmann::json;

namespace {

constexpr std::size_t kLengthPrefixBytes = 8;
constexpr auto kMaxDimension = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// A tensor as the header describes it, before the layout of all tensors has been checked.
struct HeaderTensor {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw Error(ErrorCode::invalid_model, source + ": " + problem);
}

[[noreturn]] void fail_tensor(const std::string& source, std::string_view name,
                              const std::string& problem) {
  fail(source, "tensor " + quote_for_message(name) + ": " + problem);
}

bool checked_multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& product) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  product = a * b;
  return true;
}

std::string format_range(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

// The position of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or nullopt when all of `text` is well formed.
std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    std::uint32_t minimum = 0;
    if ((lead & 0xe0) == 0xc0) {
      length = 2, code_point = lead & 0x1fu, minimum = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, code_point = lead & 0x0fu, minimum = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4, code_point = lead & 0x07u, minimum = 0x10000;
    } else {
      return i;
    }
    if (text.size() - i < length) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const auto continuation = static_cast<unsigned char>(text[i + k]);
      if ((continuation & 0xc0) != 0x80) return i;
      code_point = (code_point << 6) | (continuation & 0x3fu);
    }
    if (code_point < minimum || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return i;
    }
    i += length;
  }
  return std::nullopt;
}

// The size in bytes of a tensor, or an explanation of why it has none.
std::uint64_t tensor_byte_size(const std::string& source, const HeaderTensor& tensor) {
  std::uint64_t elements = 1;
  for (const std::int64_t dimension : tensor.shape) {
    if (!checked_multiply(elements, static_cast<std::uint64_t>(dimension), elements)) {
      fail_tensor(source, tensor.name,
                  "shape " + format_shape(tensor.shape) + " has more elements than fit in 64 bits");
    }
  }
  std::uint64_t bits = 0;
  if (!checked_multiply(elements, static_cast<std::uint64_t>(dtype_bits(tensor.dtype)), bits)) {
    fail_tensor(source, tensor.name,
                "shape " + format_shape(tensor.shape) + " of " +
                    std::string(dtype_name(tensor.dtype)) + " has more bits than fit in 64 bits");
  }
  if (bits % 8 != 0) {
    fail_tensor(source, tensor.name,
                std::to_string(elements) + " elements of " + std::string(dtype_name(tensor.dtype)) +
                    " do not fill a whole number of bytes");
  }
  return bits / 8;
}

std::uint64_t read_offset(const std::string& source, std::string_view name, const json& value) {
  if (!value.is_number_unsigned()) {
    fail_tensor(source, name,
                "data offsets must be non-negative integers, got " + describe_json_value(value));
  }
  return value.get<std::uint64_t>();
}

std::vector<std::int64_t> read_shape(const std::string& source, std::string_view name,
                                     const json& value) {
  if (!value.is_array()) {
    fail_tensor(source, name, "'shape' must be an array, got " + describe_json_value(value));
  }
  std::vector<std::int64_t> shape;
  shape.reserve(value.size());
  for (const json& dimension : value) {
    if (!dimension.is_number_unsigned() || dimension.get<std::uint64_t>() > kMaxDimension) {
      fail_tensor(source, name,
                  "shape dimension " + std::to_string(shape.size()) +
                      " must be a non-negative integer, got " + describe_json_value(dimension));
    }
    shape.push_back(dimension.get<std::int64_t>());
  }
  return shape;
}

DType read_dtype(const std::string& source, std::string_view name, const json& value) {
  if (!value.is_string()) {
    fail_tensor(source, name, "'dtype' must be a string, got " + describe_json_value(value));
  }
  const std::optional<DType> dtype = parse_dtype(value.get_ref<const std::string&>());
  if (!dtype) {
    fail_tensor(source, name, "unknown dtype " + describe_json_value(value));
  }
  return *dtype;
}

const json& require_field(const std::string& source, std::string_view name, const json& entry,
                          const char* field) {
  const auto it = entry.find(field);
  if (it == entry.end()) fail_tensor(source, name, std::string("missing '") + field + "'");
  return *it;
}

HeaderTensor read_tensor(const std::string& source, const std::string& name, const json& entry,
                         std::uint64_t data_bytes) {
  if (!entry.is_object()) {
    fail_tensor(
        source, name,
        "must be an object with dtype, shape and data_offsets, got " + describe_json_value(entry));
  }
  for (const auto& field : entry.items()) {
    if (field.key() != "dtype" && field.key() != "shape" && field.key() != "data_offsets") {
      fail_tensor(source, name, "unexpected field " + quote_for_message(field.key()));
    }
  }
  HeaderTensor tensor{name, read_dtype(source, name, require_field(source, name, entry, "dtype")),
                      read_shape(source, name, require_field(source, name, entry, "shape")), 0, 0};
  const json& offsets = require_field(source, name, entry, "data_offsets");
  if (!offsets.is_array() || offsets.size() != 2) {
    fail_tensor(
        source, name,
        "'data_offsets' must be an array [begin, end], got " + describe_json_value(offsets));
  }
  tensor.begin = read_offset(source, name, offsets[0]);
  tensor.end = read_offset(source, name, offsets[1]);
  const std::string range = format_range(tensor.begin, tensor.end);
  if (tensor.end < tensor.begin)
    fail_tensor(source, name, "data offsets " + range + " are reversed");
  const std::uint64_t size = tensor_byte_size(source, tensor);
  if (tensor.end - tensor.begin != size) {
    fail_tensor(source, name,
                "shape " + format_shape(tensor.shape) + " of " +
                    std::string(dtype_name(tensor.dtype)) + " needs " + std::to_string(size) +
                    " bytes but data offsets " + range + " hold " +
                    std::to_string(tensor.end - tensor.begin));
  }
  if (tensor.end > data_bytes) {
    fail_tensor(source, name,
                "data offsets " + range + " run past the end of the data section (" +
                    std::to_string(data_bytes) + " bytes)");
  }
  return tensor;
}

std::map<std::string, std::string> read_metadata(const std::string& source, const json& value) {
  std::map<std::string, std::string> metadata;
  if (value.is_null()) return metadata;
  if (!value.is_object()) {
    fail(source, "'__metadata__' must be an object of strings, got " + describe_json_value(value));
  }
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) {
      fail(source, "'__metadata__' entry " + quote_for_message(item.key()) +
                       " must be a string, got " + describe_json_value(item.value()));
    }
    metadata.emplace(item.key(), item.value().get<std::string>());
  }
  return metadata;
}

// Sorts the tensors by offset and checks that they tile the data section exactly, as the
// reference implementation's Metadata::validate does.
void check_layout(const std::string& source, std::vector<HeaderTensor>& tensors,
                  std::uint64_t data_bytes) {
  std::sort(tensors.begin(), tensors.end(), [](const HeaderTensor& a, const HeaderTensor& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  std::uint64_t covered = 0;
  const HeaderTensor* previous = nullptr;
  for (const HeaderTensor& tensor : tensors) {
    if (tensor.begin > covered) {
      fail(source, "bytes " + format_range(covered, tensor.begin) +
                       " of the data section belong to no tensor (a gap before tensor " +
                       quote_for_message(tensor.name) + ")");
    }
    if (tensor.begin < covered && previous != nullptr) {
      fail_tensor(source, tensor.name,
                  "data offsets " + format_range(tensor.begin, tensor.end) + " overlap tensor " +
                      quote_for_message(previous->name) + " at " +
                      format_range(previous->begin, previous->end));
    }
    covered = tensor.end;
    previous = &tensor;
  }
  if (covered != data_bytes) {
    fail(source, "the data section is " + std::to_string(data_bytes) +
                     " bytes but the tensors cover only " + std::to_string(covered) + " (" +
                     std::to_string(data_bytes - covered) + " trailing bytes)");
  }
}

}  // namespace

std::int64_t TensorEntry::element_count() const {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1},
                         [](std::int64_t a, std::int64_t b) { return a * b; });
}

std::string format_shape(std::span<const std::int64_t> shape) {
  constexpr std::size_t kMaxShown = 8;
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size() && i < kMaxShown; ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() > kMaxShown) text += ", ... (" + std::to_string(shape.size()) + " dimensions)";
  return text + "]";
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  MappedFile mapping = MappedFile::open(path);
  const std::span<const std::byte> bytes = mapping.bytes();
  SafetensorsFile file = parse(bytes, path.string());
  file.mapping_.emplace(std::move(mapping));  // moving keeps the mapped address
  return file;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, std::string source_name) {
  const std::string& source = source_name;
  if (bytes.size() < kLengthPrefixBytes) {
    fail(source, "file is " + std::to_string(bytes.size()) +
                     " bytes, too short for the 8-byte header length");
  }
  std::uint64_t header_length = 0;
  for (std::size_t i = 0; i < kLengthPrefixBytes; ++i) {
    header_length |= std::to_integer<std::uint64_t>(bytes[i]) << (8 * i);
  }
  if (header_length > kMaxHeaderBytes) {
    fail(source, "header length " + std::to_string(header_length) +
                     " is larger than the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (header_length > bytes.size() - kLengthPrefixBytes) {
    fail(source, "header length " + std::to_string(header_length) +
                     " runs past the end of the file (" + std::to_string(bytes.size()) + " bytes)");
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + kLengthPrefixBytes,
                                header_length);
  if (const std::optional<std::size_t> bad = first_invalid_utf8(header)) {
    fail(source, "header is not valid UTF-8 (byte " + std::to_string(*bad) + " of the header)");
  }
  const json document = parse_json_text(header, source + ": header", DuplicateKeys::reject);
  if (!document.is_object()) {
    fail(source, "header must be a JSON object, got " + describe_json_value(document));
  }

  SafetensorsFile file;
  file.source_name_ = std::move(source_name);
  file.header_bytes_ = header_length;
  const std::span<const std::byte> data = bytes.subspan(kLengthPrefixBytes + header_length);
  file.data_bytes_ = data.size();
  std::vector<HeaderTensor> described;
  for (const auto& item : document.items()) {
    if (item.key() == "__metadata__") {
      file.metadata_ = read_metadata(file.source_name_, item.value());
    } else {
      described.push_back(read_tensor(file.source_name_, item.key(), item.value(), data.size()));
    }
  }
  check_layout(file.source_name_, described, data.size());

  file.tensors_.reserve(described.size());
  for (HeaderTensor& tensor : described) {
    file.index_.emplace(tensor.name, file.tensors_.size());
    file.tensors_.push_back(TensorEntry{std::move(tensor.name), tensor.dtype,
                                        std::move(tensor.shape),
                                        data.subspan(tensor.begin, tensor.end - tensor.begin)});
  }
  return file;
}

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::vector<std::byte> encode_safetensors(std::span<const TensorEntry> tensors,
                                          const std::map<std::string, std::string>& metadata) {
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const int bits_a = dtype_bits(tensors[a].dtype);
    const int bits_b = dtype_bits(tensors[b].dtype);
    return bits_a != bits_b ? bits_a > bits_b : tensors[a].name < tensors[b].name;
  });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const std::size_t i : order) {
    const TensorEntry& tensor = tensors[i];
    const std::string name = quote_for_message(tensor.name);
    if (tensor.name == "__metadata__" || header.contains(tensor.name)) {
      throw Error(ErrorCode::invalid_argument,
                  "encode_safetensors: tensor name " + name + " is reserved or used twice");
    }
    if (std::any_of(tensor.shape.begin(), tensor.shape.end(), [](auto d) { return d < 0; })) {
      throw Error(ErrorCode::invalid_argument,
                  "encode_safetensors: tensor " + name + " has a negative dimension");
    }
    std::uint64_t size = 0;
    try {
      size =
          tensor_byte_size("encode_safetensors", {tensor.name, tensor.dtype, tensor.shape, 0, 0});
    } catch (const Error& e) {
      throw Error(ErrorCode::invalid_argument, e.what());
    }
    if (size != tensor.bytes.size()) {
      throw Error(ErrorCode::invalid_argument, "encode_safetensors: tensor " + name + " has " +
                                                   std::to_string(tensor.bytes.size()) +
                                                   " bytes but its dtype and shape need " +
                                                   std::to_string(size));
    }
    header[tensor.name] = {{"dtype", dtype_name(tensor.dtype)},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception&) {
    throw Error(ErrorCode::invalid_argument, "encode_safetensors: a name is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<std::byte> out(kLengthPrefixBytes + text.size());
  for (std::size_t i = 0; i < kLengthPrefixBytes; ++i) {
    out[i] = static_cast<std::byte>((text.size() >> (8 * i)) & 0xffu);
  }
  std::memcpy(out.data() + kLengthPrefixBytes, text.data(), text.size());
  for (const std::size_t i : order) {
    out.insert(out.end(), tensors[i].bytes.begin(), tensors[i].bytes.end());
  }
  return out;
}

}  // namespace hades
