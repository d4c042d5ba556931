// The verbs of the hades program, one function each, registered on the CLI11 app by main.cpp.
#pragma once

#include <CLI/CLI.hpp>

namespace hades::cli {

// Model verbs through the service: demo, embed, embed-sparse, tokenize.
void add_runtime_commands(CLI::App& app);

// Service verbs through the client: start, stop, restart, status, load, unload, list, health.
void add_service_commands(CLI::App& app);

// `serve`: the service in the foreground (server/serve.hpp).
void add_serve_command(CLI::App& app);

// `pull`: downloads a model into the Hugging Face cache, in this process (hub/downloader.hpp).
void add_pull_command(CLI::App& app);

// Classifier verbs through the service: classify, rerank, chunk.
void add_task_commands(CLI::App& app);

}  // namespace hades::cli
