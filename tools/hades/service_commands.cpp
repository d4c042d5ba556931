// Verbs that manage the service and its models through the client: start, stop, restart, status
// (LSB exit codes: 0 running, 3 not running), load, unload, list, health.
#include <cstdio>
#include <memory>
#include <string>

#include "client_output.hpp"
#include "commands.hpp"
#include "hades/engine.hpp"

namespace hades::cli {
namespace {

// LSB: `status` of a service that is not running.
constexpr int kExitNotRunning = 3;

void run_start(const ClientArgs& args) {
  HaystackModelEngine engine(client_options(args));
  const StartResult started = engine.start();
  if (args.json) {
    print_json({{"started", !started.already_running},
                {"already_running", started.already_running},
                {"pid", started.pid},
                {"socket", engine.socket_path()}});
  } else if (started.already_running) {
    std::printf("already running (pid %lld)\n", static_cast<long long>(started.pid));
  } else {
    std::printf("started (pid %lld) on %s\n", static_cast<long long>(started.pid),
                engine.socket_path().c_str());
  }
}

void run_stop(const ClientArgs& args) {
  HaystackModelEngine engine(client_options(args));
  const StopResult stopped = engine.stop();
  if (args.json) {
    print_json({{"stopped", stopped.was_running},
                {"was_running", stopped.was_running},
                {"pid", stopped.pid},
                {"socket", engine.socket_path()}});
  } else if (stopped.was_running) {
    std::printf("stopped (pid %lld)\n", static_cast<long long>(stopped.pid));
  } else {
    std::printf("not running (%s)\n", engine.socket_path().c_str());
  }
}

void run_restart(const ClientArgs& args) {
  HaystackModelEngine engine(client_options(args));
  const StopResult stopped = engine.stop();
  const StartResult started = engine.start();
  if (args.json) {
    print_json(
        {{"stopped_pid", stopped.pid}, {"pid", started.pid}, {"socket", engine.socket_path()}});
  } else {
    std::printf("restarted (pid %lld) on %s\n", static_cast<long long>(started.pid),
                engine.socket_path().c_str());
  }
}

void print_status(const ServiceStatus& status) {
  std::printf("hades is running (pid %lld)\n", static_cast<long long>(status.pid));
  std::printf("  socket   %s\n", status.socket.c_str());
  std::printf("  uptime   %s\n", human_duration(status.uptime_seconds).c_str());
  std::printf("  version  %s\n", status.version.c_str());
  std::printf("  device   %s%s%s\n", status.device.c_str(), status.device_note.empty() ? "" : " — ",
              status.device_note.c_str());
  for (const std::string& address : status.tcp_addresses) {
    std::printf("  tcp      %s (%s)\n", address.c_str(),
                status.tcp_api_key ? "API key required" : "no API key");
  }
  const char* label = "limits";
  for (const auto& [name, value] : status.limits) {
    std::printf("  %-8s %-20s %s\n", label, name.c_str(), value == "null" ? "none" : value.c_str());
    label = "";
  }
  std::printf("  models   %zu loaded\n", status.models.size());
  print_models_table(status.models, "    ");
}

void run_status(const ClientArgs& args) {
  HaystackModelEngine engine(client_options(args));
  const ServiceStatus status = engine.status();
  if (args.json) {
    print_json(status_json(status));
  } else if (status.running) {
    print_status(status);
  } else if (status.pid != 0) {
    std::printf("hades is starting (pid %lld) on %s, not accepting connections yet\n",
                static_cast<long long>(status.pid), status.socket.c_str());
  } else {
    std::printf("hades is not running (%s)\n", status.socket.c_str());
  }
  if (!status.running) throw CLI::RuntimeError(kExitNotRunning);
}

struct LoadArgs {
  ClientArgs client;
  std::string model;
  std::string device;
  std::string dtype;
  std::string keep_alive;
  std::string default_prompt_name;
  bool pin = false;
};

void run_load(const LoadArgs& args) {
  HaystackModelEngine engine(client_options(args.client));
  LoadModelOptions options;
  options.device = args.device;
  options.pin = args.pin;
  options.dtype = args.dtype;
  options.keep_alive = args.keep_alive;
  options.default_prompt_name = args.default_prompt_name;
  const LoadedModel model = engine.load_model(args.model, options);
  if (args.client.json) {
    print_json({{"model", model_json(model)}});
    return;
  }
  std::printf("loaded %s: %s on %s, %s, %s%s\n", model.id.c_str(), model.state.c_str(),
              model.device.c_str(), model.dtype.c_str(),
              runtime::format_byte_size(model.memory_bytes).c_str(),
              model.pinned ? ", pinned" : "");
}

void run_unload(const ClientArgs& args, const std::string& model) {
  HaystackModelEngine engine(client_options(args));
  engine.unload_model(model);
  if (args.json) {
    print_json({{"model", model}, {"unloaded", true}});
  } else {
    std::printf("unloaded %s\n", model.c_str());
  }
}

void run_list(const ClientArgs& args) {
  HaystackModelEngine engine(client_options(args));
  const std::vector<LoadedModel> models = engine.get_loaded_models();
  if (!args.json) {
    print_models_table(models);
    return;
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const LoadedModel& model : models) rows.push_back(model_json(model));
  print_json({{"models", rows}});
}

void run_health(const ClientArgs& args) {
  HaystackModelEngine engine(client_options(args));
  // Through the client rather than health_check(): an unreachable service is an error, exit 1.
  const HealthStatus health = engine.client().health();
  if (args.json) {
    print_json({{"status", health.status},
                {"version", health.version},
                {"uptime_seconds", health.uptime_seconds}});
  } else {
    std::printf("%s: hades %s, up %s\n", health.status.c_str(), health.version.c_str(),
                human_duration(health.uptime_seconds).c_str());
  }
  if (!health.healthy) throw Error(ErrorCode::internal, health.message);
}

// Registers a verb whose only arguments are the client flags.
void add_simple(CLI::App& app, const char* name, const char* help, void (*run)(const ClientArgs&)) {
  auto* command = app.add_subcommand(name, help);
  auto args = std::make_shared<ClientArgs>();
  add_client_flags(*command, *args);
  command->callback([args, run] { run(*args); });
}

}  // namespace

void add_service_commands(CLI::App& app) {
  add_simple(app, "start", "Start the service in the background; returns once it accepts",
             run_start);
  add_simple(app, "stop", "Stop the service (SIGTERM; requests in flight finish first)", run_stop);
  add_simple(app, "restart", "Stop, then start the service", run_restart);
  add_simple(app, "status",
             "Show the service: pid, socket, uptime, device, models, limits (exit 3: not running)",
             run_status);
  add_simple(app, "list", "List the loaded models", run_list);
  add_simple(app, "health", "Check that the service answers", run_health);

  auto* load = app.add_subcommand("load", "Load a model (a Hugging Face id or a model folder)");
  auto load_args = std::make_shared<LoadArgs>();
  add_client_flags(*load, load_args->client);
  load->add_option("model", load_args->model, "model id or folder")->required();
  load->add_option("--device", load_args->device, "device (default: the service's)");
  load->add_flag("--pin", load_args->pin, "never evict this model");
  load->add_option("--dtype", load_args->dtype,
                   "linear layers' precision: fp32 (default), int8, bf16, auto (bf16 where the CPU "
                   "has it, else fp32)")
      ->check(CLI::IsMember({"fp32", "int8", "bf16", "auto"}));
  load->add_option("--keep-alive", load_args->keep_alive,
                   "how long it stays after its last request: 5m, 30s, 1h, 0 (unload after each "
                   "request), -1 (forever; default: the service's $HADES_KEEP_ALIVE)");
  load->add_option("--default-prompt-name", load_args->default_prompt_name,
                   "the prompt (a name in the model's config_sentence_transformers.json prompts, "
                   "e.g. query) that embed requests without their own get");
  load->callback([load_args] { run_load(*load_args); });

  auto* unload = app.add_subcommand("unload", "Unload a model");
  auto unload_args = std::make_shared<ClientArgs>();
  auto unload_model = std::make_shared<std::string>();
  add_client_flags(*unload, *unload_args);
  unload->add_option("model", *unload_model, "model id or folder")->required();
  unload->callback([unload_args, unload_model] { run_unload(*unload_args, *unload_model); });
}

}  // namespace hades::cli
