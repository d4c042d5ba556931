// Fuzzes config.json as the registry reads it (src/models/registry.cpp and each architecture's
// config reader: BERT, DistilBERT, ModernBERT, XLM-RoBERTa): the input is parsed as the config,
// then the model is built against the weights of a tiny fixture of the architecture its
// "model_type" names, so that every size, flag and label the config declares is checked against
// real tensors. A config that would need more memory than the fixture has must fail before
// allocating it.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "io/json_file.hpp"
#include "io/safetensors.hpp"
#include "io/weights.hpp"
#include "models/registry.hpp"

namespace {

// The fixtures hold an encoder under its checkpoint prefix plus a sequence-classification head,
// so that bare, token- and sequence-classification configs all find most of their tensors.
struct Fixture {
  std::string bytes;  // the model.safetensors file, owned here for the store's lifetime
  hades::WeightStore store;
};

std::unique_ptr<Fixture> load_fixture(const std::string& folder) {
  std::string bytes = hades::fuzz::read_data_file("models/" + folder + "/model.safetensors");
  auto fixture =
      std::make_unique<Fixture>(Fixture{std::move(bytes), hades::WeightStore::from_files({})});
  const std::span<const std::byte> view(reinterpret_cast<const std::byte*>(fixture->bytes.data()),
                                        fixture->bytes.size());
  std::vector<hades::SafetensorsFile> files;
  files.push_back(hades::SafetensorsFile::parse(view, folder + "/model.safetensors"));
  fixture->store = hades::WeightStore::from_files(std::move(files));
  return fixture;
}

// Built once, on the first input. On the heap: a store's tensors point into its file's bytes.
const std::map<std::string, std::unique_ptr<Fixture>, std::less<>>& fixtures() {
  static const auto table = [] {
    std::map<std::string, std::unique_ptr<Fixture>, std::less<>> loaded;
    loaded["bert"] = load_fixture("tiny-bertcls-h32-a2-l2-seqcls");
    loaded["distilbert"] = load_fixture("tiny-distilbert-d32-h4-l2-gelu-seqcls");
    loaded["modernbert"] = load_fixture("tiny-modernbert-h24-a2-l5-w8-seqcls");
    loaded["roberta"] = load_fixture("tiny-roberta-h32-a4-l2-gelu-seqcls");
    loaded["xlm-roberta"] = load_fixture("tiny-xlmr-h32-a4-l2-gelu-seqcls");
    loaded["qwen3"] = load_fixture("tiny-st6-qwen3");
    loaded["nomic_bert"] = load_fixture("tiny-nomic-h16-a2-l2-swiglu-seqcls");
    loaded["gte"] = load_fixture("tiny-gte-h16-a2-l2-geglu-seqcls");
    loaded["new"] = load_fixture("tiny-gte-h16-a2-l2-geglu-hub");
    return loaded;
  }();
  return table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& table = fixtures();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hades::fuzz::expect_only_input_errors([&] {
    const nlohmann::json config = hades::parse_json_text(text, "config.json");
    std::string model_type;
    if (config.is_object()) {
      const auto found = config.find("model_type");
      if (found != config.end() && found->is_string()) model_type = found->get<std::string>();
    }
    auto it = table.find(model_type);
    // Unknown model types still go through the registry, for its own error.
    const hades::WeightStore& weights = (it != table.end() ? it : table.begin())->second->store;
    (void)hades::load_model_parts(config, "config.json", weights, hades::cpu_backend());
  });
  return 0;
}
