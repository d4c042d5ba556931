#include "client_output.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace hades::cli {

void add_client_flags(CLI::App& command, ClientArgs& args) {
  command.add_option(
      "--socket", args.socket,
      "socket path (default: $HADES_MODEL_MGR_SOCKET, else /tmp/hades_model_mgr.sock)");
  command.add_flag("--json", args.json, "print JSON instead of a table");
}

void add_jsonl_flag(CLI::App& command, ClientArgs& args) {
  command.add_flag("--jsonl", args.jsonl, "print one JSON object per input, as results come")
      ->excludes("--json");
}

ClientOptions client_options(const ClientArgs& args) {
  ClientOptions options;
  options.socket_path = args.socket;
  return options;
}

nlohmann::json model_json(const LoadedModel& model) {
  nlohmann::json out = {{"id", model.id},
                        {"state", model.state},
                        {"device", model.device},
                        {"kind", model.kind},
                        {"model_type", model.model_type},
                        {"dtype", model.dtype},
                        {"memory_bytes", model.memory_bytes},
                        {"pinned", model.pinned},
                        {"dimension", model.dimension},
                        {"max_sequence_length", model.max_sequence_length},
                        {"requests", model.requests},
                        {"in_flight", model.in_flight},
                        {"idle_seconds", model.idle_seconds},
                        {"keep_alive", model.keep_alive_seconds}};
  if (!model.default_prompt_name.empty()) out["default_prompt_name"] = model.default_prompt_name;
  if (!model.error.empty()) out["error"] = model.error;
  if (model.state == "downloading") {
    out["progress"] = model.progress;
    out["downloaded_bytes"] = model.downloaded_bytes;
    out["total_bytes"] = model.total_bytes;
  }
  return out;
}

namespace {

// The service sent these values as JSON text; they go back out as the JSON they were.
nlohmann::json fields_json(const std::map<std::string, std::string>& fields) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, text] : fields) {
    out[name] = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  }
  return out;
}

}  // namespace

nlohmann::json status_json(const ServiceStatus& status) {
  if (!status.running) {
    nlohmann::json out = {{"running", false}, {"socket", status.socket}};
    if (status.pid != 0) out["pid"] = status.pid;  // a daemon that is still starting
    return out;
  }
  nlohmann::json models = nlohmann::json::array();
  for (const LoadedModel& model : status.models) models.push_back(model_json(model));
  return {{"running", true},
          {"pid", status.pid},
          {"socket", status.socket},
          {"version", status.version},
          {"uptime_seconds", status.uptime_seconds},
          {"device", status.device},
          {"device_note", status.device_note},
          {"tcp", {{"addresses", status.tcp_addresses}, {"api_key", status.tcp_api_key}}},
          {"models", models},
          {"limits", fields_json(status.limits)},
          {"stats", fields_json(status.stats)}};
}

std::string human_duration(double seconds) {
  const auto total = static_cast<long long>(seconds);
  char text[48];
  if (total < 60) {
    std::snprintf(text, sizeof(text), "%.1fs", seconds);
  } else if (total < 3600) {
    std::snprintf(text, sizeof(text), "%lldm %llds", total / 60, total % 60);
  } else if (total < 86400) {
    std::snprintf(text, sizeof(text), "%lldh %lldm", total / 3600, total % 3600 / 60);
  } else {
    std::snprintf(text, sizeof(text), "%lldd %lldh", total / 86400, total % 86400 / 3600);
  }
  return text;
}

void print_models_table(const std::vector<LoadedModel>& models, const char* indent) {
  if (models.empty()) {
    std::printf("%sno models loaded\n", indent);
    return;
  }
  size_t id_width = 5;
  for (const LoadedModel& model : models) id_width = std::max(id_width, model.id.size());
  const int width = static_cast<int>(id_width);
  std::printf("%s%-*s  %-11s  %-7s  %-5s  %-11s  %-23s  %10s  %-6s  %8s  %-8s  %s\n", indent, width,
              "MODEL", "STATE", "DEVICE", "DTYPE", "TYPE", "TASK", "MEMORY", "PINNED", "REQUESTS",
              "IDLE", "KEEP ALIVE");
  for (const LoadedModel& model : models) {
    const std::string keep_alive =
        model.keep_alive_seconds < 0 ? "forever" : human_duration(model.keep_alive_seconds);
    // TYPE and TASK are "-" until the model is loaded, so that the columns stay aligned.
    std::printf("%s%-*s  %-11s  %-7s  %-5s  %-11s  %-23s  %10s  %-6s  %8llu  %-8s  %s\n", indent,
                width, model.id.c_str(), model.state.c_str(), model.device.c_str(),
                model.dtype.c_str(), model.model_type.empty() ? "-" : model.model_type.c_str(),
                model.kind.empty() ? "-" : model.kind.c_str(),
                runtime::format_byte_size(model.memory_bytes).c_str(), model.pinned ? "yes" : "no",
                static_cast<unsigned long long>(model.requests),
                human_duration(model.idle_seconds).c_str(), keep_alive.c_str());
    if (!model.default_prompt_name.empty()) {
      std::printf("%s  default prompt: %s\n", indent, model.default_prompt_name.c_str());
    }
    if (!model.error.empty()) std::printf("%s  error: %s\n", indent, model.error.c_str());
    if (model.state == "downloading") {
      std::printf("%s  downloading: %.0f%% (%s of %s)\n", indent, 100.0 * model.progress,
                  runtime::format_byte_size(model.downloaded_bytes).c_str(),
                  runtime::format_byte_size(model.total_bytes).c_str());
    }
  }
}

std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void print_json(const nlohmann::json& value) {
  std::printf("%s\n", json_text(value).c_str());
}

void print_json_item(size_t index, std::string_view head, const std::string& item) {
  if (index == 0) {
    std::fwrite(head.data(), 1, head.size(), stdout);
  } else {
    std::fputc(',', stdout);
  }
  std::fputs(item.c_str(), stdout);
}

}  // namespace hades::cli
