// Which files of a hub repository hades fetches, and how it checks them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace hades::hub {

// Whether a repo file (its path in the repo, "1_Pooling/config.json") is one a load needs: the
// config, tokenizer files, safetensors weights or shards with their index, sentence-transformers
// configs and their module folders ("1_Pooling/", "2_Dense/", ...). Never pickle weights
// (*.bin, *.pt, *.pth, *.ckpt, *.pkl), never code (*.py), never other formats (ONNX, ...).
bool is_wanted_file(const std::string& name);

// Whether FILES (a repo's listing) hold safetensors weights at the top level.
bool has_safetensors_weights(const std::vector<std::string>& files);

// The weight-like files of a listing (for the message when none is safetensors).
std::vector<std::string> weight_files(const std::vector<std::string>& files);

// An ETag header as the cache names blobs: without "W/" and the quotes.
std::string normalize_etag(const std::string& etag);

// Whether TEXT is 64 lower-case hex digits (an LFS file's sha256, as the hub gives it).
bool is_sha256_hex(const std::string& text);

// The SHA-256 of a file's bytes, as 64 lower-case hex digits.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace hades::hub
