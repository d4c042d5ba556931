#include "hub/repo_files.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <memory>

#include "hades/error.hpp"

namespace hades::hub {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The top-level files a load reads besides weights (transformers' tokenizer files and
// sentence-transformers' configs).
constexpr const char* kTopLevelFiles[] = {
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "model.safetensors.index.json",
};

// sentence-transformers module folders are named "<index>_<Name>" ("1_Pooling", "2_Dense").
bool is_module_folder(const std::string& folder) {
  const size_t underscore = folder.find('_');
  if (underscore == 0 || underscore == std::string::npos || underscore + 1 == folder.size()) {
    return false;
  }
  return std::all_of(folder.begin(), folder.begin() + static_cast<std::ptrdiff_t>(underscore),
                     [](unsigned char c) { return std::isdigit(c) != 0; }) &&
         std::all_of(folder.begin() + static_cast<std::ptrdiff_t>(underscore) + 1, folder.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
}

}  // namespace

bool is_wanted_file(const std::string& name) {
  if (name.empty() || name.find("..") != std::string::npos || name.front() == '/') return false;
  const size_t slash = name.find('/');
  if (slash == std::string::npos) {
    if (ends_with(name, ".safetensors")) return true;
    return std::any_of(std::begin(kTopLevelFiles), std::end(kTopLevelFiles),
                       [&](const char* wanted) { return name == wanted; });
  }
  // One level of module folder, holding its config and (for Dense layers) safetensors weights.
  const std::string folder = name.substr(0, slash);
  const std::string file = name.substr(slash + 1);
  if (!is_module_folder(folder) || file.find('/') != std::string::npos) return false;
  return file == "config.json" || ends_with(file, ".safetensors");
}

bool has_safetensors_weights(const std::vector<std::string>& files) {
  return std::any_of(files.begin(), files.end(), [](const std::string& name) {
    return name.find('/') == std::string::npos && ends_with(name, ".safetensors");
  });
}

std::vector<std::string> weight_files(const std::vector<std::string>& files) {
  const char* suffixes[] = {".safetensors", ".bin",     ".pt",   ".pth", ".ckpt",
                            ".h5",          ".msgpack", ".onnx", ".pkl", ".gguf"};
  std::vector<std::string> out;
  for (const std::string& name : files) {
    if (std::any_of(std::begin(suffixes), std::end(suffixes),
                    [&](const char* suffix) { return ends_with(name, suffix); })) {
      out.push_back(name);
    }
  }
  return out;
}

std::string normalize_etag(const std::string& etag) {
  std::string out = etag;
  if (out.rfind("W/", 0) == 0) out.erase(0, 2);
  if (out.size() >= 2 && out.front() == '"' && out.back() == '"')
    out = out.substr(1, out.size() - 2);
  return out;
}

bool is_sha256_hex(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io_error, "cannot read " + path.string() + " to check it");
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                        &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCode::internal, "OpenSSL could not start a SHA-256");
  }
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    if (in.gcount() > 0) {
      EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(in.gcount()));
    }
  }
  if (in.bad()) throw Error(ErrorCode::io_error, "cannot read " + path.string() + " to check it");
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest.data(), &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace hades::hub
