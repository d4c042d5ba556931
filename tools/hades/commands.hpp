// The verbs of the hades program, one function each, registered on the CLI11 app by main.cpp.
#pragma once

#include <CLI/CLI.hpp>

namespace hades::cli {

// In-process verbs (until the service lands): demo, embed, tokenize.
void add_runtime_commands(CLI::App& app);

}  // namespace hades::cli
