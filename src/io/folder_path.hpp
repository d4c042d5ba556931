// Checking a model folder: that it is one, and that a path named inside a model file stays inside
// it.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "hades/error.hpp"

namespace hades {

// True when `relative` names something inside the folder it is relative to: not absolute, no ".."
// component, no NUL (which would cut the path short when handed to the OS). "" is the folder
// itself. The check is lexical on purpose: in the Hugging Face cache every file is a symlink into
// ../../blobs, so resolving links would reject every cached model.
inline bool stays_inside_folder(std::string_view relative) {
  if (relative.find('\0') != std::string_view::npos) return false;
  const std::filesystem::path path(relative);
  return !path.has_root_path() &&
         std::none_of(path.begin(), path.end(), [](const auto& part) { return part == ".."; });
}

// Throws Error not_found when DIR does not exist or is not a folder, io_error with the system's
// reason when it cannot be examined (a symlink loop, no permission). The throwing overloads of
// std::filesystem would let a std::filesystem_error escape instead.
inline void require_model_folder(const std::filesystem::path& dir) {
  std::error_code error;
  const bool is_folder = std::filesystem::is_directory(dir, error);
  if (error && error != std::errc::no_such_file_or_directory) {
    throw Error(ErrorCode::io_error,
                dir.string() + ": cannot open the model folder: " + error.message());
  }
  if (!is_folder) throw Error(ErrorCode::not_found, dir.string() + ": model folder not found");
}

}  // namespace hades
