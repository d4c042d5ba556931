// What the client verbs share: the --socket and --json flags, texts from the command line or
// stdin, and the service's answers as human tables or JSON.
#pragma once

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hades/client.hpp"
#include "hades/types.hpp"

namespace hades::cli {

struct ClientArgs {
  std::string socket;  // empty: HADES_MODEL_MGR_SOCKET, else the default
  bool json = false;
};

// Adds --socket and --json to COMMAND.
void add_client_flags(CLI::App& command, ClientArgs& args);

ClientOptions client_options(const ClientArgs& args);

// TEXTS as given, or stdin one text per line when TEXTS is just "-".
std::vector<std::string> texts_or_stdin(const std::vector<std::string>& texts);

nlohmann::json model_json(const LoadedModel& model);
nlohmann::json status_json(const ServiceStatus& status);

// "86.7 MiB", "3m 12s".
std::string human_bytes(uint64_t bytes);
std::string human_duration(double seconds);

// The loaded models as an aligned table, or a line saying there are none.
void print_models_table(const std::vector<LoadedModel>& models, const char* indent = "");

// Prints VALUE as one line of JSON.
void print_json(const nlohmann::json& value);

}  // namespace hades::cli
