// Paths to test data: committed fixtures and the real model fetched by scripts/fetch-minilm.sh.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace hades::test {

inline std::filesystem::path data_dir() {
  return HADES_TEST_DATA_DIR;
}

// A test name for a test parameterised over model folders: the folder's name, '-' as '_'.
template <typename ParamInfo>
std::string folder_test_name(const ParamInfo& param_info) {
  std::string name = param_info.param.filename().string();
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// The snapshot folder of a model in the test Hugging Face cache (refs/main names the snapshot).
inline std::filesystem::path cached_model_dir(const std::string& org, const std::string& name) {
  const std::filesystem::path repo =
      std::filesystem::path(HADES_TEST_HF_CACHE) / ("models--" + org + "--" + name);
  std::ifstream ref(repo / "refs" / "main");
  std::string commit;
  if (!(ref >> commit)) {
    throw std::runtime_error("test model " + org + "/" + name + " is not in " +
                             std::string(HADES_TEST_HF_CACHE) + ": run scripts/fetch-minilm.sh");
  }
  return repo / "snapshots" / commit;
}

// Lays FOLDER out in the cache at CACHE as huggingface_hub writes a download of ID: refs/main
// names the snapshot that holds the files.
inline void add_to_cache(const std::filesystem::path& cache, const std::string& id,
                         const std::filesystem::path& folder,
                         const std::string& commit = "0123456789abcdef0123456789abcdef01234567") {
  std::string repo = "models--" + id;
  repo.replace(repo.find('/'), 1, "--");
  const std::filesystem::path snapshot = cache / repo / "snapshots" / commit;
  std::filesystem::create_directories(snapshot);
  std::filesystem::copy(folder, snapshot, std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(cache / repo / "refs");
  std::ofstream(cache / repo / "refs" / "main") << commit;
}

inline std::filesystem::path minilm_dir() {
  return cached_model_dir("sentence-transformers", "all-MiniLM-L6-v2");
}

}  // namespace hades::test
