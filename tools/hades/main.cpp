// hades — the command-line front end. Errors of any verb end here, printed with their stable code.
// Exit status: 0 ok, 1 error, 2 usage, 3 `status` when the service is not running.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "core/version.hpp"
#include "hades/error.hpp"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"hades — a local model engine for embeddings, classification and chunking"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hades ") + hades::kVersion);
  hades::cli::add_runtime_commands(app);
  hades::cli::add_serve_command(app);
  hades::cli::add_service_commands(app);
  hades::cli::add_task_commands(app);
  hades::cli::add_pull_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; `status` reports "not running" as RuntimeError(3); every other
    // parse error is a usage error.
    const int code = app.exit(e);
    return code == 0 || dynamic_cast<const CLI::RuntimeError*>(&e) != nullptr ? code : 2;
  } catch (const hades::Error& e) {
    std::fprintf(stderr, "hades: error [%s]: %s\n",
                 std::string(hades::error_code_name(e.code())).c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hades: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

// Anything that escapes run (the set-up of the command line itself) is an internal error too.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hades: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "hades: internal error\n");
  }
  return 1;
}
