// hades — the command-line front end. Errors of any verb end here: printed with their stable
// code, exit status 1; a usage error exits with CLI11's status.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "hades/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"hades — a local model engine for embeddings, classification and chunking"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hades 0.1.0");
  hades::cli::add_runtime_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
