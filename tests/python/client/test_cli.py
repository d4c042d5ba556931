"""`python scripts/model_service_manager.py`, the seed's command line, run as the seed runs it
(from the checkout, nothing installed): each verb with its exit code (0 ok, 1 error, 2 usage,
3 `status` not running) and its --json, and the same bytes as the C++ `hades` program wherever
the output does not carry a pid or a clock."""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hades

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "model_service_manager.py"
DATA = REPO / "tests" / "data"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
CHONKY = "mirth/chonky_modernbert_large_1"
RERANKER = str(DATA / "models" / "tiny-bertcls-h32-a2-l2-rerank")
CLASSIFIER = str(DATA / "models" / "tiny-bertcls-h32-a2-l2-seqcls")
CHUNKER = str(DATA / "models" / "tiny-distilbert-chonky")
ST6 = str(DATA / "models" / "tiny-st6-bert-mean-normalize")  # prompts: query "query: "


def run(*arguments, stdin=None, program=None):
    """The script (or PROGRAM, e.g. the C++ hades) with ARGUMENTS, from another folder and
    without the package on the path, as a checkout runs it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [str(program)] if program else [sys.executable, str(SCRIPT)]
    return subprocess.run(command + [str(a) for a in arguments], input=stdin, env=env,
                          capture_output=True, text=True, cwd="/", timeout=120)


def json_of(result):
    assert result.stdout.count("\n") == 1, result.stdout
    return json.loads(result.stdout)


def test_the_seeds_verbs_with_exit_codes_and_json(hades_env):
    result = run("status")
    assert (result.returncode, result.stdout) == (3, f"hades is not running ({hades_env})\n")
    result = run("status", "--json")
    assert result.returncode == 3 and json_of(result) == {"running": False, "socket": hades_env}

    result = run("start")
    assert result.returncode == 0, result.stderr
    pid = int(re.fullmatch(rf"started \(pid (\d+)\) on {re.escape(hades_env)}\n",
                           result.stdout).group(1))
    assert run("start").stdout == f"already running (pid {pid})\n"
    assert json_of(run("start", "--json")) == {"already_running": True, "pid": pid,
                                                "socket": hades_env, "started": False}

    loaded = json_of(run("load", MINILM, "--pin", "--json"))["model"]
    assert (loaded["id"], loaded["pinned"], loaded["state"]) == (MINILM, True, "ready")
    result = run("load", CHONKY)
    assert re.fullmatch(rf"loaded {CHONKY}: ready on cpu, fp32, [\d.]+ MiB\n", result.stdout)
    listed = json_of(run("list", "--json"))["models"]
    assert sorted(m["id"] for m in listed) == sorted([MINILM, CHONKY])
    listed_by_id = {m["id"]: m for m in listed}
    assert listed_by_id[MINILM]["model_type"] == "bert"
    table = run("list").stdout.splitlines()
    assert table[0].split() == ["MODEL", "STATE", "DEVICE", "DTYPE", "TYPE", "TASK", "MEMORY",
                                "PINNED", "REQUESTS", "IDLE", "KEEP", "ALIVE"]
    assert sorted(line.split()[0] for line in table[1:]) == sorted([MINILM, CHONKY])
    assert all(line.split()[1:4] == ["ready", "cpu", "fp32"] for line in table[1:])
    types = {line.split()[0]: line.split()[4:6] for line in table[1:]}
    assert types == {MINILM: ["bert", "embedding"],
                     CHONKY: ["modernbert", "token-classification"]}

    result = run("status")
    assert result.returncode == 0 and result.stdout.startswith(f"hades is running (pid {pid})")
    for line in (f"  socket   {hades_env}", "  models   2 loaded", "  limits   max_batch_tokens"):
        assert line in result.stdout, result.stdout
    status = json_of(run("status", "--json"))
    assert (status["running"], status["pid"], status["socket"]) == (True, pid, hades_env)
    assert sorted(status) == ["device", "device_note", "limits", "models", "pid", "running",
                              "socket", "stats", "tcp", "uptime_seconds", "version"]
    assert status["tcp"] == {"addresses": [], "api_key": False}

    assert run("unload", CHONKY).stdout == f"unloaded {CHONKY}\n"
    assert json_of(run("unload", MINILM, "--json")) == {"model": MINILM, "unloaded": True}
    result = run("unload", MINILM)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"hades: error [model_not_found]: Model not loaded: {MINILM}")

    assert re.fullmatch(r"ok: hades [\d.]+, up [\d.]+s\n", run("health").stdout)
    assert sorted(json_of(run("health", "--json"))) == ["status", "uptime_seconds", "version"]
    restarted = json_of(run("restart", "--json"))
    assert restarted["stopped_pid"] == pid and restarted["pid"] != pid
    assert run("stop").stdout == f"stopped (pid {restarted['pid']})\n"
    assert run("stop").stdout == f"not running ({hades_env})\n"
    assert json_of(run("stop", "--json")) == {"pid": 0, "socket": hades_env, "stopped": False,
                                               "was_running": False}
    result = run("health")
    assert result.returncode == 1
    assert result.stderr.startswith("hades: error [connection_refused]: Connection refused: ")


def test_restart_and_socket_flag_in_human_form(hades_env, tmp_path):
    other = str(Path(hades_env).with_name("other.sock"))
    result = run("restart", "--socket", other)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rf"restarted \(pid \d+\) on {re.escape(other)}\n", result.stdout)
    assert run("status", "--socket", other).returncode == 0
    assert run("status").returncode == 3  # the environment's socket is another one
    assert run("stop", "--socket", other).returncode == 0


@pytest.fixture
def both(service, hades_bin):
    """Runs the script and the C++ program with the same arguments; returns both results."""

    def run_both(*arguments, stdin=None):
        return run(*arguments, stdin=stdin), run(*arguments, stdin=stdin, program=hades_bin)

    return run_both


SAME_OUTPUT = [
    ("embed", MINILM, "-", "--json"),
    ("embed", MINILM, "-", "--jsonl"),
    ("tokenize", MINILM, "-", "--jsonl"),
    ("classify", CLASSIFIER, "-", "--jsonl"),
    ("embed", MINILM, "one text", "and another", "--no-normalize"),
    ("embed", MINILM, "x", "--pooling", "cls", "--json"),
    ("embed", ST6, "a question", "--prompt-name", "query", "--json"),
    ("embed", ST6, "a text", "another", "--prompt", "search: ", "--dimensions", "8", "--json"),
    ("embed", ST6, "a text", "--prompt", "", "--dimensions", "4"),
    ("embed", ST6, "x", "--prompt-name", "no-such-prompt"),
    ("embed", MINILM, "x", "--dimensions", "1000"),
    ("tokenize", MINILM, "Café au lait, crème brûlée", "--json"),
    ("tokenize", MINILM, "Hello there", "--no-special-tokens"),
    ("classify", CLASSIFIER, "good", "terrible", "--json"),
    ("classify", CLASSIFIER, "-"),
    ("rerank", RERANKER, "how do frogs survive the winter", "Frogs hibernate.", "Stocks fell.",
     "--json"),
    ("rerank", RERANKER, "query", "document one", "document two"),
    ("rerank", RERANKER, "query", "document one", "document two", "--raw-scores", "--json"),
    ("chunk", CHUNKER, "-", "--json"),
    ("chunk", CHUNKER, "-", "--clean", "text", "--snap"),
    ("chunk", CHONKY, "-", "--max-length", "64", "--json"),
    ("unload", "no-such-org/no-such-model"),
    ("load", "no-such-org/no-such-model", "--json"),
    ("rerank", RERANKER, "a query alone"),
    ("chunk", CHUNKER, "/no/such/file"),
    ("classify", MINILM, "an embedding model has no classification head"),
    ("embed", MINILM, "word " * 300, "--no-truncate"),
]


@pytest.mark.parametrize("arguments", SAME_OUTPUT, ids=lambda a: " ".join(a)[:60])
def test_the_same_output_as_the_cpp_program(both, arguments):
    document = json.loads((DATA / "chunk" / "reference.json").read_text())["cases"][1]["text"]
    stdin = document if arguments[0] == "chunk" else "first line\nsecond line\n"
    python, cpp = both(*arguments, stdin=stdin)
    assert (python.returncode, python.stdout, python.stderr) == \
        (cpp.returncode, cpp.stdout, cpp.stderr)
    assert python.stdout or python.stderr.startswith("hades: error [")


def test_embed_prompts_and_dimensions_reach_the_service(both):
    def embedding(*flags):
        return json_of(run("embed", ST6, "a question", "--json", *flags))["embeddings"][0]

    plain = embedding()
    assert embedding("--prompt-name", "query") == embedding("--prompt", "query: ") != plain
    assert embedding("--prompt", "query: ") == \
        json_of(run("embed", ST6, "query: a question", "--json"))["embeddings"][0]
    cut = embedding("--dimensions", "8")
    assert len(cut) == 8 and cut != plain[:8]  # normalized again
    assert abs(sum(x * x for x in cut) - 1) < 1e-5


@pytest.fixture(params=["socket", "tcp"])
def daemon(request, monkeypatch):
    """The session's daemon, or the one that also listens on TCP with a key, in the
    environment."""
    daemon = request.getfixturevalue("service" if request.param == "socket" else "tcp_service")
    for name, value in daemon.env.items():
        monkeypatch.setenv(name, value)
    return daemon


def steady_status(text):
    """`status` output without what moves between two calls: the clocks and the counters."""
    text = re.sub(r'"(uptime_seconds|idle_seconds)":[-+.e0-9]+', r'"\1":T', text)
    text = re.sub(r'"stats":\{[^}]*\}', '"stats":S', text)
    return re.sub(r"\b(\d+\.\ds|\d+m \d+s|\d+h \d+m|\d+d \d+h)\b", "T", text)


def test_status_as_the_cpp_program(daemon, hades_bin):
    assert run("load", MINILM).returncode == 0
    loaded = json_of(run("load", CLASSIFIER, "--keep-alive", "1h", "--json"))["model"]
    assert loaded["keep_alive"] == 3600.0
    outputs = {}
    for arguments in (["status"], ["status", "--json"], ["list"], ["list", "--json"]):
        python, cpp = run(*arguments), run(*arguments, program=hades_bin)
        assert (python.returncode, python.stderr) == (cpp.returncode, cpp.stderr) == (0, "")
        assert steady_status(python.stdout) == steady_status(cpp.stdout)
        outputs[" ".join(arguments)] = python.stdout
    row = next(line for line in outputs["list"].splitlines() if line.startswith(CLASSIFIER))
    assert row.endswith("  1h 0m")
    tcp = json_of(run("status", "--json"))["tcp"]
    if daemon.url:
        assert tcp == {"addresses": [daemon.url[len("http://"):]], "api_key": True}
        assert f"  tcp      {tcp['addresses'][0]} (API key required)\n" in outputs["status"]
    else:
        assert tcp == {"addresses": [], "api_key": False}


USAGE_ERRORS = [(), ("no-such-verb",), ("load",), ("unload",), ("embed", MINILM),
                ("load", MINILM, "--dtype", "fp8"), ("chunk", CHUNKER, "--clean", "markdown"),
                ("status", "--no-such-flag"), ("chunk", CHUNKER, "--max-length", "many")]


@pytest.mark.parametrize("arguments", USAGE_ERRORS, ids=lambda a: " ".join(a) or "nothing")
def test_usage_errors_exit_2_as_the_cpp_program(hades_env, hades_bin, arguments):
    python, cpp = run(*arguments), run(*arguments, program=hades_bin)
    assert python.returncode == cpp.returncode == 2
    assert python.stdout == "" and python.stderr.endswith("Run with --help for more information.\n")


def test_help_and_version(hades_bin):
    result = run("--help")
    assert result.returncode == 0
    for verb in ("start", "stop", "restart", "status", "load", "unload", "list", "health",
                 "embed", "tokenize", "classify", "rerank", "chunk", "pull", "demo", "serve"):
        assert verb in result.stdout
    assert run("load", "--help").returncode == 0
    # The C++ program's version is the CMake project's; the Python package's is its own.
    assert run("--version").stdout == run("--version", program=hades_bin).stdout
    assert importlib.metadata.version("hades") == hades.__version__
    serve_help = run("serve", "--help")  # `serve` is the hades program's own
    assert serve_help.returncode == 0 and "--max-models" in serve_help.stdout


def test_pull_reports_the_cached_snapshot(hades_env):
    result = run("pull", MINILM, "--json")
    assert result.returncode == 0, result.stderr
    ready = json_of(result)
    assert ready["event"] == "ready" and ready["model"] == MINILM
    assert (Path(ready["path"]) / "config.json").is_file()
    assert run("pull", MINILM).stdout == ready["path"] + "\n"
    missing = run("pull", "no-such-org/no-such-model")
    assert missing.returncode == 1
    assert missing.stderr.startswith("hades: error [model_not_found]: Model not found: ")


def test_demo_as_the_cpp_program(hades_env, hades_bin):
    arguments = ("demo", "--chunk-model", CHUNKER, "--chunk-note", "a tiny random chunker")
    python, cpp = run(*arguments), run(*arguments, program=hades_bin)
    assert python.returncode == cpp.returncode == 0, python.stderr

    def steady(text):  # pids, sizes and clocks differ from run to run
        text = re.sub(r"pid \d+", "pid N", text)
        text = re.sub(r"\d+(\.\d+)? (B|KiB|MiB)", "SIZE", text)
        return re.sub(r"\b\d+(\.\d+)?s\b", "TIME", text)  # the idle column too

    assert steady(python.stdout) == steady(cpp.stdout)
    assert "cosine similarities" in python.stdout and "service stopped" in python.stdout
