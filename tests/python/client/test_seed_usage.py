"""The seed's examples (shared/SEED.md) on a real daemon, verbatim but for the import line: the
service's life (start, status, restart, stop), two models of different kinds (chonky's chunker and
MiniLM, served as stand-ins by the conftest's cache), the context manager, also left by an
exception, and the engine's guarantees behind them (start returns once the socket accepts, stop
once the daemon has exited, status and health_check never raise for a stopped service)."""

from pathlib import Path

import pytest

from hades import HaystackModelEngine  # the seed: from src.model_engine.engines.haystack import ...
import hades
from hades._service import lock_holder_pid, process_alive

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
CHONKY = "mirth/chonky_modernbert_large_1"


def test_service_management_as_the_seed_writes_it(hades_env, capsys):
    # -- the seed, "Service Management", verbatim:
    # Create an engine instance
    engine = HaystackModelEngine()

    # Start the service
    engine.start()

    # Check service status
    status = engine.status()
    print(status)

    # Restart the service
    engine.restart()

    # Stop the service
    engine.stop()
    # -- end of the seed's block.

    assert status.running and status.pid > 0 and status.socket == hades_env
    assert f"socket='{hades_env}'" in capsys.readouterr().out
    assert not process_alive(status.pid), "restart stopped the first daemon"
    # The daemon's lock is held for its life: released, it has exited.
    assert lock_holder_pid(hades_env + ".lock") is None, "stop waited for the second one"
    assert not Path(hades_env).exists(), "the daemon removes its socket"
    assert engine.status().running is False


def test_model_operations_as_the_seed_writes_them(hades_env):
    engine = HaystackModelEngine()
    started = engine.start()
    assert not started.already_running and started.pid > 0
    assert engine.start() == hades.StartResult(already_running=True, pid=started.pid)

    # -- the seed, "Model Operations" and "Multiple Model Types", verbatim:
    # Load a model
    result = engine.load_model("mirth/chonky_modernbert_large_1")

    # Get information about loaded models
    loaded_models = engine.get_loaded_models()

    # Load a chunking model
    engine.load_model("mirth/chonky_modernbert_large_1")

    # Load an embedding model
    engine.load_model("sentence-transformers/all-MiniLM-L6-v2")

    # Both models are now available for use
    both = engine.get_loaded_models()

    # Unload a model
    engine.unload_model("mirth/chonky_modernbert_large_1")

    # Check engine health
    health = engine.health_check()
    # -- end of the seed's blocks.

    assert isinstance(result, hades.LoadedModel)
    assert (result.id, result.state, result.kind) == (CHONKY, "ready", "token-classification")
    assert [m.id for m in loaded_models] == [CHONKY]
    kinds = {m.id: m.kind for m in both}
    assert kinds == {CHONKY: "token-classification", MINILM: "embedding"}
    assert [m.id for m in engine.get_loaded_models()] == [MINILM]
    assert health.healthy and health.status == "ok" and health.version
    with pytest.raises(hades.ModelNotFoundError, match=CHONKY):
        engine.unload_model(CHONKY)  # unloading twice names the model

    restarted = engine.restart()
    assert not restarted.already_running and restarted.pid != started.pid
    assert engine.get_loaded_models() == [], "a restart begins with no models"
    stopped = engine.stop()
    assert stopped == hades.StopResult(was_running=True, pid=restarted.pid)
    assert not process_alive(restarted.pid)
    assert engine.stop() == hades.StopResult(was_running=False, pid=0)
    assert not engine.health_check().healthy
    assert engine.health_check().status == "not running"


def test_context_manager_starts_and_stops(hades_env):
    # -- the seed, "Context Manager Interface", verbatim (the model's use filled in):
    with HaystackModelEngine() as engine:
        # Load model
        engine.load_model("mirth/chonky_modernbert_large_1")

        # Use the model
        # (the stand-in's window is 64 tokens; the real model's id names 1024)
        chunks = engine.chunk("mirth/chonky_modernbert_large_1", ["One. Two.\n\nThree."],
                              max_length=64)
        pid = engine.status().pid

        # The service will be automatically stopped when exiting the context
    # -- end of the seed's block.
    assert "".join(c.text for c in chunks.results[0].chunks) == "One. Two.\n\nThree."
    assert pid > 0 and not process_alive(pid)
    assert lock_holder_pid(hades_env + ".lock") is None


def test_context_manager_stops_also_on_an_exception(hades_env):
    pids = []
    with pytest.raises(hades.ModelNotFoundError, match="Model not found: no-such-org/no-such"):
        with HaystackModelEngine() as engine:
            pids.append(engine.started.pid)
            engine.load_model("no-such-org/no-such-model")
    assert pids[0] > 0 and not process_alive(pids[0]), "the service stopped while unwinding"

    with pytest.raises(ZeroDivisionError):
        with HaystackModelEngine() as engine:
            pids.append(engine.status().pid)
            1 / 0
    assert not process_alive(pids[1])


def test_context_manager_can_leave_a_running_service_alone(hades_env):
    outer = HaystackModelEngine()
    running = outer.start()
    with HaystackModelEngine(stop_on_exit="if_started") as engine:
        assert engine.started == hades.StartResult(already_running=True, pid=running.pid)
        engine.load_model(MINILM)
    assert process_alive(running.pid), "a service the block did not start keeps running"
    assert [m.id for m in outer.get_loaded_models()] == [MINILM]

    # The seed's way (the default) stops it whoever started it.
    with HaystackModelEngine():
        pass
    assert not process_alive(running.pid)

    # "if_started" does stop a service the block started itself.
    with HaystackModelEngine(stop_on_exit="if_started") as engine:
        pid = engine.started.pid
        assert not engine.started.already_running
    assert not process_alive(pid)
    with pytest.raises(hades.InvalidArgumentError, match="stop_on_exit"):
        HaystackModelEngine(stop_on_exit="sometimes")


def test_status_reports_the_service(hades_env):
    engine = HaystackModelEngine()
    assert engine.status() == hades.ServiceStatus(running=False, socket=hades_env)
    assert not engine.status()  # a stopped service is falsy
    started = engine.start()
    engine.load_model(MINILM, pin=True)
    status = engine.status()
    assert status.running and status.pid == started.pid and status.version
    assert status.device == "cpu"
    assert status.limits["max_models"] == 3
    assert isinstance(status.stats, dict) and status.stats
    [model] = status.models
    assert (model.id, model.pinned, model.dimension, model.dtype) == (MINILM, True, 384, "fp32")
    assert model.memory_bytes > 80 << 20
    engine.stop()
