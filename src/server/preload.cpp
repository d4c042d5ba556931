#include "server/preload.hpp"

#include "hades/error.hpp"

namespace hades::server {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

void apply_option(std::string_view option, const std::string& context,
                  runtime::LoadModelOptions& options) {
  const size_t equals = option.find('=');
  const std::string_view name = option.substr(0, equals);
  const std::string value(equals == std::string_view::npos ? "" : option.substr(equals + 1));
  if (name == "pin" && (equals == std::string_view::npos || value == "true")) {
    options.pin = true;
  } else if (name == "dtype" && !value.empty()) {
    options.dtype = value;  // checked by the engine's load, which names the valid ones
  } else if (name == "keep_alive" && !value.empty()) {
    options.keep_alive = runtime::parse_keep_alive(value, context + " keep_alive")
                             .value_or(std::chrono::milliseconds(-1));
  } else if (name == "default_prompt_name" && !value.empty()) {
    options.default_prompt_name = value;  // checked by the load against the model's prompts
  } else {
    throw Error(ErrorCode::invalid_argument,
                context + ": unknown option '" + std::string(option) +
                    "' (use dtype=fp32|int8|bf16|auto, pin, keep_alive=DURATION, "
                    "default_prompt_name=NAME)");
  }
}

}  // namespace

std::vector<PreloadModel> parse_preload_list(std::string_view text, std::string_view source) {
  std::vector<PreloadModel> models;
  for (const std::string_view entry : split(text, ',')) {
    const std::string context = std::string(source) + " entry '" + std::string(entry) + "'";
    const size_t question = entry.find('?');
    PreloadModel model{.model = std::string(entry.substr(0, question)), .options = {}};
    if (model.model.empty()) throw Error(ErrorCode::invalid_argument, context + ": no model");
    if (question != std::string_view::npos) {
      for (const std::string_view option : split(entry.substr(question + 1), '&')) {
        apply_option(option, context, model.options);
      }
    }
    models.push_back(std::move(model));
  }
  return models;
}

PreloadStatus::PreloadStatus(const std::vector<PreloadModel>& models) {
  for (const PreloadModel& model : models) entries_.push_back(Entry{.model = model.model});
}

void PreloadStatus::loaded(size_t index) {
  std::lock_guard lock(mutex_);
  entries_.at(index).loaded = true;
}

void PreloadStatus::failed(size_t index, const std::string& reason) {
  std::lock_guard lock(mutex_);
  entries_.at(index).error = reason;
}

std::vector<std::string> PreloadStatus::models() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.model);
  return out;
}

std::vector<std::string> PreloadStatus::waiting() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const Entry& e : entries_) {
    if (e.loaded) continue;
    out.push_back(e.model + (e.error.empty() ? " is loading" : " failed to load: " + e.error));
  }
  return out;
}

}  // namespace hades::server
