// Checking that a path named inside a model file stays inside the model folder.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string_view>

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

}  // namespace hades
