// What the client verbs share: the --socket, --json and --jsonl flags, and the service's answers
// as human tables or JSON.
#pragma once

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config.hpp"
#include "hades/client.hpp"
#include "hades/types.hpp"

namespace hades::cli {

struct ClientArgs {
  std::string socket;  // empty: HADES_MODEL_MGR_SOCKET, else the default
  bool json = false;
  bool jsonl = false;  // embed, tokenize, classify: one JSON object per input
};

// Adds --socket and --json to COMMAND.
void add_client_flags(CLI::App& command, ClientArgs& args);

// Adds --jsonl to COMMAND, a verb that takes texts of any number (after add_client_flags).
void add_jsonl_flag(CLI::App& command, ClientArgs& args);

ClientOptions client_options(const ClientArgs& args);

nlohmann::json model_json(const LoadedModel& model);
nlohmann::json status_json(const ServiceStatus& status);

// "3m 12s"; sizes print with format_byte_size (engine/config.hpp): "86.7 MiB".
std::string human_duration(double seconds);

// The loaded models as an aligned table, or a line saying there are none.
void print_models_table(const std::vector<LoadedModel>& models, const char* indent = "");

// VALUE as one line of JSON; bytes that are not UTF-8 become U+FFFD.
std::string json_text(const nlohmann::json& value);

// Prints VALUE as one line of JSON.
void print_json(const nlohmann::json& value);

// --json output of results that come in several answers: one object whose array grows as they
// come. Prints HEAD (`{"model":"m","results":[`) before the first item, a comma before the others.
void print_json_item(size_t index, std::string_view head, const std::string& item);

}  // namespace hades::cli
