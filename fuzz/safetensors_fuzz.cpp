// Fuzzes the safetensors parser (src/io/safetensors.cpp) with whole files held in memory: the
// header length, the JSON header, dtypes, shapes, offsets and the data section's tiling. A file
// that parses must be safe to use: every tensor's bytes are read through the float conversion,
// and the files go into a WeightStore as the loader would put them.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_support.hpp"
#include "io/safetensors.hpp"
#include "io/weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  hades::fuzz::expect_only_input_errors([&] {
    hades::SafetensorsFile file = hades::SafetensorsFile::parse(bytes, "fuzz.safetensors");
    for (const hades::TensorEntry& tensor : file.tensors()) {
      if (tensor.dtype != hades::DType::f32 && tensor.dtype != hades::DType::f16 &&
          tensor.dtype != hades::DType::bf16) {
        continue;
      }
      std::vector<float> values(static_cast<std::size_t>(tensor.element_count()));
      hades::convert_to_f32(tensor, values);
    }
    std::vector<hades::SafetensorsFile> files;
    files.push_back(std::move(file));
    const hades::WeightStore store = hades::WeightStore::from_files(std::move(files));
    for (const std::string& name : store.names()) (void)store.get(name);
  });
  return 0;
}
