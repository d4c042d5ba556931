#!/usr/bin/env python3
"""Three hades replicas behind HAProxy, one of them killed with SIGKILL under load.

The balancer runs deploy/haproxy/haproxy.cfg itself, with only what a test must change: the
listening and replica addresses (loopback ports), the runtime API's socket path, no chroot or user
switch. The replicas are the real `hades serve` on loopback TCP ports with an API key, offline,
each on its own private socket; HAProxy checks their GET /ready.

What it does, in order:
1. the key passes through the balancer (401 without it, 200 with it; /health open);
2. a request for each of three models finds the replica its hash names (its "home");
3. the cluster's capacity: closed-loop clients through the balancer for a few seconds;
4. an open-loop load at 60 % of that capacity (OpenAI embedding requests for all-MiniLM-L6-v2
   and two tiny models by folder path: the fixture tiny-st6-bert-mean-normalize and a copy of it
   under another name, so another model id), during which MiniLM's home replica is killed with
   SIGKILL, started again a second after HAProxy has marked it down, and the load goes on for a
   few seconds after HAProxy has marked it up again.

It asserts that every request ends in 200 and none is lost; that none needed the client's own
retries (the client does retry, so that a balancer that fails to retry shows as that check
failing rather than as errors); that a model whose home stays up is served only there; that the
killed replica's models are served by one other replica while HAProxy has it down and by it again
once it is back; and that each replica's own per-model request counts (GET /v1/models) equal what
the client saw it answer. It prints the counts and the latencies (p50, p99) of the whole load and
of the requests scheduled while the replica was out.

Run: build/py-venv/bin/python tests/deploy/haproxy_replicas_test.py (or any Python 3.9+: standard
library only). $HADES_BIN names the program (default build/hades), $HADES_TEST_HF_CACHE a Hugging
Face cache holding all-MiniLM-L6-v2 (default build/hf-hub, filled by scripts/fetch-minilm.sh);
`haproxy` must be on PATH (Debian's package, installed by scripts/install-deps.sh).
"""

import argparse
import dataclasses
import http.client
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from deploy_support import BOUND_S, Checks, free_port, http_get, http_status, wait_for

REPO = Path(__file__).resolve().parents[2]
DEPLOY_CONFIG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TINY_FIXTURE = REPO / "tests" / "data" / "models" / "tiny-st6-bert-mean-normalize"
REPLICAS = 3
CLIENT_ATTEMPTS = 4  # a request's tries by the client itself, after the balancer's own retries
WORKERS = 32  # open-loop senders: enough that a burst of slow answers does not hold the schedule


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the replicas ----------------------------------------------------------------------------


class Replica:
    """One `hades serve` with a loopback TCP listener; its port stays the same across restarts."""

    def __init__(self, name: str, binary: Path, folder: Path, env: Dict[str, str], key: str):
        self.name = name
        self.binary = binary
        self.socket = folder / f"{name}.sock"
        self.env = env
        self.key = key
        self.port = 0
        self.process: Optional[subprocess.Popen] = None

    def start(self, ready_path: str = "/ready") -> None:
        address = f"127.0.0.1:{self.port}"
        with open(f"{self.socket}.stderr", "ab") as stderr:
            self.process = subprocess.Popen(
                [str(self.binary), "serve", "--socket", str(self.socket), "--listen", address,
                 "--quiet"], env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=stderr)
        if self.port == 0:
            wait_for(f"{self.name}'s TCP address", self._read_port)
        wait_for(f"{self.name} to answer {ready_path}",
                 lambda: self._alive() and http_status(self.port, ready_path) == 200)

    def _alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}; see "
                                 f"{self.socket}.log and {self.socket}.stderr")
        return True

    def _read_port(self) -> bool:
        self._alive()
        status = subprocess.run([str(self.binary), "status", "--json"], capture_output=True,
                                text=True, timeout=30,
                                env={**self.env, "HADES_MODEL_MGR_SOCKET": str(self.socket)})
        if status.returncode != 0:
            return False
        addresses = json.loads(status.stdout).get("tcp", {}).get("addresses", [])
        if not addresses:
            return False
        self.port = int(addresses[0].rsplit(":", 1)[1])
        return True

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def model_requests(self) -> Dict[str, int]:
        status, body = http_get(self.port, "/v1/models", self.key)
        assert status == 200, f"{self.name} GET /v1/models: {status} {body[:200]!r}"
        return {m["id"]: m["requests"] for m in json.loads(body)["models"]}


# --- the balancer ----------------------------------------------------------------------------


def substitute(text: str, pattern: str, replacement: str, count: int) -> str:
    """Replaces PATTERN (a multi-line regex) exactly COUNT times, so that a change in the shape
    of the deploy file fails here instead of leaving the test on another configuration."""
    result, made = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if made != count:
        raise AssertionError(f"{DEPLOY_CONFIG}: expected {count} match(es) of {pattern!r}, "
                             f"found {made}; update the test's rendering")
    return result


def render_config(text: str, lb_port: int, stats_port: int, admin_socket: Path,
                  replica_ports: List[int]) -> str:
    text = substitute(text, r"^(\s*bind) :8080$", rf"\1 127.0.0.1:{lb_port}", 1)
    text = substitute(text, r"^(\s*bind) 127\.0\.0\.1:8404$", rf"\1 127.0.0.1:{stats_port}", 1)
    text = substitute(text, r"^(\s*stats socket) /run/haproxy/admin\.sock ",
                      rf"\1 {admin_socket} ", 1)
    # Privileges and a chroot belong to the installed service, not to a test run by any user.
    text = substitute(text, r"^\s*(chroot|user|group) \S+\n", "", 3)
    servers = "".join(f"    server hades{i + 1} 127.0.0.1:{port}\n"
                      for i, port in enumerate(replica_ports))
    text = substitute(text, r"^\s*server hades[2-9] \S+\n", "", 2)
    text = substitute(text, r"^\s*server hades1 \S+\n", servers, 1)
    return text


class Balancer:
    def __init__(self, folder: Path):
        self.config = folder / "haproxy.cfg"
        self.admin_socket = folder / "haproxy-admin.sock"
        self.log_file = folder / "haproxy.log"
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None

    def start(self, replica_ports: List[int]) -> None:
        self.config.write_text(render_config(DEPLOY_CONFIG.read_text(), self.port, free_port(),
                                             self.admin_socket, replica_ports))
        check = subprocess.run(["haproxy", "-c", "-f", str(self.config)], capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, f"haproxy -c refused the config:\n{check.stdout}{check.stderr}"
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(["haproxy", "-db", "-f", str(self.config)],
                                            stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT)
        wait_for("HAProxy to accept and to see every replica pass a check",
                 lambda: self.all_up(len(replica_ports)) and http_status(self.port, "/health"))

    def admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(10)
            connection.connect(str(self.admin_socket))
            connection.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stats(self) -> List[Dict[str, str]]:
        """`show stat` as one dict per row (the backend's servers and the backend itself)."""
        if self.process.poll() is not None:
            raise AssertionError(f"haproxy exited with {self.process.returncode}; see {self.log_file}")
        try:
            lines = [ln for ln in self.admin("show stat").splitlines() if ln.strip()]
        except OSError:
            return []
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","))) for line in lines[1:]]
        return [row for row in rows if row["pxname"] == "hades"]

    def server_states(self) -> Dict[str, str]:
        return {r["svname"]: r["status"].split()[0] for r in self.stats()
                if r["svname"] not in ("BACKEND", "FRONTEND")}

    def all_up(self, count: int) -> bool:
        servers = [r for r in self.stats() if r["svname"] not in ("BACKEND", "FRONTEND")]
        return len(servers) == count and all(
            r["status"] == "UP" and r["check_status"] == "L7OK" for r in servers)

    def backend_counter(self, name: str) -> int:
        return sum(int(r[name] or 0) for r in self.stats() if r["svname"] == "BACKEND")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=BOUND_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- the client ------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    """One request through the balancer, as the client saw it (times: time.monotonic())."""

    seq: int
    model: str
    scheduled: float
    started: float = 0.0
    last_sent: float = 0.0  # when its last try was sent (the one whose answer counts)
    ended: float = 0.0
    status: int = 0
    replica: str = ""
    attempts: int = 0
    error: str = ""

    @property
    def latency(self) -> float:
        return self.ended - self.scheduled


class Sender:
    """Sends embedding requests through the balancer over one kept-alive connection."""

    def __init__(self, port: int, key: str):
        self.port = port
        self.key = key
        self.connection: Optional[http.client.HTTPConnection] = None

    def _post(self, body: bytes) -> Tuple[int, str, bytes]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=BOUND_S)
        self.connection.request("POST", "/v1/embeddings", body=body,
                                headers={"Authorization": f"Bearer {self.key}",
                                         "Content-Type": "application/json"})
        answer = self.connection.getresponse()
        return answer.status, answer.getheader("X-Hades-Replica", ""), answer.read()

    def send(self, outcome: Outcome, texts: List[str]) -> Outcome:
        body = json.dumps({"model": outcome.model, "input": texts}).encode()
        outcome.started = time.monotonic()
        for attempt in range(1, CLIENT_ATTEMPTS + 1):
            outcome.attempts = attempt
            outcome.last_sent = time.monotonic()
            try:
                outcome.status, outcome.replica, data = self._post(body)
            except (OSError, http.client.HTTPException) as error:
                outcome.status, outcome.error = 0, f"{type(error).__name__}: {error}"
                self.connection.close()
                self.connection = None
            else:
                if outcome.status == 200:
                    embeddings = json.loads(data)["data"]
                    if len(embeddings) == len(texts) and all(e["embedding"] for e in embeddings):
                        outcome.error = ""
                        break
                    outcome.status, outcome.error = 0, "an answer without every embedding"
                else:
                    outcome.error = data[:200].decode(errors="replace")
                    if outcome.status not in (429, 502, 503, 504):
                        break
            time.sleep(0.05 * attempt)
        outcome.ended = time.monotonic()
        return outcome


def texts_for(seq: int) -> List[str]:
    subjects = ["The replica", "A request", "This model", "The balancer", "One query"]
    verbs = ["answers", "embeds", "routes", "retries", "batches"]
    return [f"{subjects[(seq + i) % 5]} {verbs[(seq // 5 + i) % 5]} item {seq}-{i} quickly."
            for i in range(1 + seq % 2)]


class Ledger:
    def __init__(self, models: List[str]):
        self.models = models
        self.outcomes: List[Outcome] = []
        self.lock = threading.Lock()
        self.next_seq = 0

    def new(self, scheduled: float) -> Outcome:
        with self.lock:
            seq = self.next_seq
            self.next_seq += 1
        # Half the requests for MiniLM (the costly one), a quarter for each tiny model.
        model = self.models[[0, 1, 0, 2][seq % 4]]
        return Outcome(seq=seq, model=model, scheduled=scheduled)

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)


def closed_loop(port: int, key: str, ledger: Ledger, clients: int, seconds: float) -> float:
    """Requests per second that CLIENTS senders sustain, each sending as soon as it has an answer."""
    stop_at = time.monotonic() + seconds
    done = []

    def client() -> None:
        sender = Sender(port, key)
        count = 0
        while time.monotonic() < stop_at:
            outcome = ledger.new(time.monotonic())
            ledger.record(sender.send(outcome, texts_for(outcome.seq)))
            count += 1
        done.append(count)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


class OpenLoop:
    """Requests scheduled at a fixed rate whatever the answers (latency counts from the scheduled
    time, so a stall shows as the queue it builds), sent by a pool of senders."""

    def __init__(self, port: int, key: str, ledger: Ledger, rate: float):
        self.ledger = ledger
        self.rate = rate
        self.queue: "queue.Queue[Optional[Outcome]]" = queue.Queue()
        self.stopping = threading.Event()
        self.scheduled = 0
        self.started = 0.0
        self.senders = [threading.Thread(target=self._send, args=(Sender(port, key),))
                        for _ in range(WORKERS)]
        self.scheduler = threading.Thread(target=self._schedule)

    def start(self) -> None:
        for t in self.senders:
            t.start()
        self.started = time.monotonic()
        self.scheduler.start()

    def _schedule(self) -> None:
        while not self.stopping.is_set():
            due = self.started + self.scheduled / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.queue.put(self.ledger.new(due))
            self.scheduled += 1

    def _send(self, sender: Sender) -> None:
        while (outcome := self.queue.get()) is not None:
            self.ledger.record(sender.send(outcome, texts_for(outcome.seq)))

    def stop(self) -> float:
        """Stops scheduling, waits for every scheduled request; returns the seconds it ran."""
        self.stopping.set()
        self.scheduler.join()
        ran = time.monotonic() - self.started
        for _ in self.senders:
            self.queue.put(None)
        for t in self.senders:
            t.join(timeout=BOUND_S * CLIENT_ATTEMPTS)
        return ran


# --- checks and the report -------------------------------------------------------------------


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


@dataclasses.dataclass
class Outage:
    """When the killed replica was killed, seen down by HAProxy, started again and seen up."""

    replica: str = ""
    kill_at: float = 0.0
    down_at: float = 0.0
    respawn_at: float = 0.0
    up_at: float = 0.0


def check_routing(checks: Checks, outcomes: List[Outcome], homes: Dict[str, str],
                  outage: Outage) -> None:
    """Each model on its home while its home is up; the killed replica's models on one other
    replica from the moment HAProxy has marked it down, and back on it once it is up again.
    Requests caught by the death itself, sent before HAProxy marked the replica down, are retried
    by HAProxy on a neighbour of the ring, which need not be the one the model then moves to
    (deploy/haproxy/haproxy.cfg says why): those must end in 200, like every request, wherever."""
    for model, home in homes.items():
        mine = [o for o in outcomes if o.model == model]
        if home != outage.replica:
            elsewhere = sorted({o.replica for o in mine if o.replica != home})
            checks.check(not elsewhere, f"{model}: all {len(mine)} requests on its home {home} "
                         f"(elsewhere: {elsewhere or 'none'})")
            continue
        # Answered before the kill, or sent (last try) after HAProxy had it up again: home.
        outside = [o for o in mine if o.ended < outage.kill_at or o.last_sent > outage.up_at]
        strays = [o for o in outside if o.replica != home]
        checks.check(not strays, f"{model}: the {len(outside)} requests outside the outage on "
                     f"its home {home} ({len(strays)} elsewhere)")
        caught = [o for o in mine if o.ended >= outage.kill_at and o.last_sent <= outage.down_at]
        moved = [o for o in mine if outage.down_at < o.last_sent <= outage.up_at]
        fallbacks = sorted({o.replica for o in moved if o.replica != home})
        landed = sorted({o.replica for o in caught})
        # Sent before it was even started again: none of these can have gone home.
        away = [o for o in moved if o.last_sent < outage.respawn_at]
        checks.check(len(fallbacks) <= 1 and (len(fallbacks) == 1 or not away),
                     f"{model}: while marked down on one other replica ({fallbacks}; "
                     f"{len(moved)} requests; the {len(caught)} caught by the kill on {landed})")
        back = [o for o in mine if o.last_sent > outage.up_at and o.replica == home]
        checks.check(bool(back), f"{model}: back on {home} after it came up ({len(back)} requests)")


def check_server_counts(checks: Checks, replicas: Dict[str, Replica], outcomes: List[Outcome],
                        killed: str, respawn_at: float) -> None:
    """Each replica's own count of requests per model equals the answers the client got from it
    (the killed one's since its restart: its earlier counts died with it, and an answer it sent
    just before the kill may reach the client after it)."""
    for name, replica in replicas.items():
        counted = replica.model_requests()
        seen: Dict[str, int] = {}
        for o in outcomes:
            if o.status == 200 and o.replica == name and (name != killed or
                                                          o.last_sent > respawn_at):
                seen[o.model] = seen.get(o.model, 0) + 1
        served = {m: c for m, c in counted.items() if c}
        checks.check(served == seen, f"{name}: its /v1/models counts {served} equal the client's "
                     f"{seen}")


def report_latency(label: str, outcomes: List[Outcome]) -> None:
    latencies = [o.latency * 1000 for o in outcomes]
    log(f"{label}: {len(outcomes)} requests, latency p50 {percentile(latencies, 0.50):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies, default=0):.1f} ms")


# --- the run ---------------------------------------------------------------------------------


def find_binary() -> Path:
    path = Path(os.environ.get("HADES_BIN", REPO / "build" / "hades"))
    # A build may be relinking it: give it a moment to come back.
    wait_for(f"an executable {path}", lambda: os.access(path, os.X_OK), bound_s=60, step_s=0.5)
    return path


def replica_env(cache: Path, key: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HADES_", "HF_"))}
    env.update({
        "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HADES_API_KEY": key,
        "HADES_RUNTIME_AUTOSTART": "0",
        # Three replicas share this machine's cores: one compute thread each, asleep when idle.
        "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive",
    })
    return env


def run(args: argparse.Namespace, folder: Path, checks: Checks) -> None:
    binary = find_binary()
    cache = Path(os.environ.get("HADES_TEST_HF_CACHE", REPO / "build" / "hf-hub"))
    assert (cache / "models--sentence-transformers--all-MiniLM-L6-v2").is_dir(), \
        f"all-MiniLM-L6-v2 is not in {cache}: run scripts/fetch-minilm.sh"
    assert shutil.which("haproxy"), "haproxy is not installed (scripts/install-deps.sh)"
    tiny_copy = folder / "tiny-st6-copy"
    shutil.copytree(TINY_FIXTURE, tiny_copy)
    models = [MINILM, str(TINY_FIXTURE), str(tiny_copy)]
    key = "hk-" + secrets.token_hex(16)
    env = replica_env(cache, key)

    replicas = {f"hades{i + 1}": Replica(f"hades{i + 1}", binary, folder, env, key)
                for i in range(REPLICAS)}
    for replica in replicas.values():
        replica.start()
    log(f"replicas on ports {[r.port for r in replicas.values()]}")

    balancer = Balancer(folder)
    try:
        balancer.start([r.port for r in replicas.values()])
        exercise(args, balancer, replicas, models, key, checks)
    finally:
        balancer.stop()
        for replica in replicas.values():
            replica.stop()


def check_key_passes(checks: Checks, lb: int, key: str) -> None:
    """The balancer hands the Authorization header to the replica, which checks it."""
    body = json.dumps({"model": MINILM, "input": "key check"}).encode()
    for header, expected in (({}, 401), ({"Authorization": "Bearer wrong"}, 401),
                             ({"Authorization": f"Bearer {key}"}, 200)):
        connection = http.client.HTTPConnection("127.0.0.1", lb, timeout=BOUND_S)
        connection.request("POST", "/v1/embeddings", body=body,
                           headers={"Content-Type": "application/json", **header})
        status = connection.getresponse().status
        connection.close()
        shown = "the right key" if expected == 200 else (header.get("Authorization") or "no key")
        checks.check(status == expected, f"through HAProxy with {shown}: {status}")
    checks.check(http_status(lb, "/health") == 200, "through HAProxy, /health without a key: 200")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_capacity(args: argparse.Namespace, balancer: Balancer, replicas: Dict[str, Replica],
                     ledger: Ledger, key: str) -> float:
    """Closed-loop requests per second through the balancer, and where the CPU time went (all of
    it shares this machine's cores: a client that uses most of them bounds the figure)."""
    pids = {"client": os.getpid(), "HAProxy": balancer.process.pid,
            **{name: r.process.pid for name, r in replicas.items()}}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    capacity = closed_loop(balancer.port, key, ledger, args.clients, args.capacity_seconds)
    took = time.monotonic() - started
    cores = ", ".join(f"{name} {(cpu_seconds(pid) - before[name]) / took:.2f}"
                      for name, pid in pids.items())
    log(f"capacity through HAProxy: {capacity:.0f} requests/s with {args.clients} closed-loop "
        f"clients (cores busy: {cores}; {os.cpu_count()} cores)")
    return capacity


def kill_and_restart(args: argparse.Namespace, balancer: Balancer, victim: Replica) -> Outage:
    """Kills VICTIM under load, lets the load run on the others, starts it again, waits until
    HAProxy has it up; the load runs on in the background all along."""
    outage = Outage(replica=victim.name, kill_at=time.monotonic())
    victim.kill()
    log(f"killed {victim.name} (SIGKILL), the home of {MINILM}")
    outage.down_at = wait_for(f"HAProxy to mark {victim.name} down",
                              lambda: balancer.server_states().get(victim.name) != "UP")
    time.sleep(args.outage_seconds)  # the load on the replicas left
    outage.respawn_at = time.monotonic()
    victim.start()
    outage.up_at = wait_for(f"HAProxy to mark {victim.name} up again",
                            lambda: balancer.server_states().get(victim.name) == "UP")
    log(f"{victim.name}: marked down {outage.down_at - outage.kill_at:.2f} s after the kill, "
        f"started again at {outage.respawn_at - outage.kill_at:.2f} s, marked up at "
        f"{outage.up_at - outage.kill_at:.2f} s")
    return outage


def exercise(args: argparse.Namespace, balancer: Balancer, replicas: Dict[str, Replica],
             models: List[str], key: str, checks: Checks) -> None:
    check_key_passes(checks, balancer.port, key)
    ledger = Ledger(models)
    sender = Sender(balancer.port, key)
    for model in models:
        outcome = ledger.new(time.monotonic())
        outcome.model = model
        ledger.record(sender.send(outcome, ["warm-up: load the model on its home replica"]))
    homes = {m: next(o.replica for o in ledger.outcomes if o.model == m) for m in models}
    log(f"homes: {homes}")
    capacity = measure_capacity(args, balancer, replicas, ledger, key)
    check_routing(checks, ledger.outcomes, homes, Outage())

    before = len(ledger.outcomes)
    counters = {name: balancer.backend_counter(name) for name in ("wretr", "wredis")}
    load = OpenLoop(balancer.port, key, ledger, max(args.load_fraction * capacity, 10.0))
    load.start()
    log(f"open loop at {load.rate:.0f} requests/s")
    time.sleep(args.steady_seconds)  # steady load before the kill
    outage = kill_and_restart(args, balancer, replicas[homes[MINILM]])
    time.sleep(args.steady_seconds)  # steady load after the recovery
    ran = load.stop()
    counters = {name: balancer.backend_counter(name) - n for name, n in counters.items()}

    during_load = ledger.outcomes[before:]
    lost = load.scheduled - len(during_load)
    failed = [o for o in ledger.outcomes if o.status != 200]
    log(f"open loop: {load.scheduled} scheduled in {ran:.1f} s ({load.scheduled / ran:.0f}/s, "
        f"{load.scheduled / ran / capacity:.0%} of capacity), {len(during_load)} answered, "
        f"{len(failed)} not 200; HAProxy retries {counters['wretr']}, redispatches "
        f"{counters['wredis']}")
    checks.check(lost == 0, f"no request lost ({lost} of {load.scheduled} unanswered)")
    client_retried = [o for o in during_load if o.attempts > 1]
    checks.check(not client_retried, "HAProxy's retries alone hid the kill: no request needed the "
                 f"client's ({len(client_retried)} did)")
    checks.check(not failed, "every request ended in 200" + "".join(
        f"\n    {o.model} -> {o.replica or '?'}: {o.status} {o.error}" for o in failed[:10]))
    checks.check(load.scheduled / ran >= 0.5 * capacity,
                 f"the load ran at half the measured capacity or more ({load.scheduled / ran:.0f} "
                 f"of {capacity:.0f} requests/s)")
    log("requests per model during the load: "
        f"{ {m: sum(1 for o in during_load if o.model == m) for m in models} }")
    report_latency("whole load", during_load)
    report_latency(f"scheduled while {outage.replica} was out (kill to marked up)",
                   [o for o in during_load if outage.kill_at <= o.scheduled <= outage.up_at])
    check_routing(checks, during_load, homes, outage)
    check_server_counts(checks, replicas, ledger.outcomes, outage.replica, outage.respawn_at)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients for capacity")
    parser.add_argument("--capacity-seconds", type=float, default=3.0)
    parser.add_argument("--load-fraction", type=float, default=0.6,
                        help="open-loop rate as a fraction of the measured capacity")
    parser.add_argument("--steady-seconds", type=float, default=4.0,
                        help="load before the kill, and again after the replica is back")
    parser.add_argument("--outage-seconds", type=float, default=1.0,
                        help="load while the killed replica is down, before it is started again")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    # Short: a Unix socket path must fit in 108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="hades-lb-", dir="/tmp"))
    checks = Checks()
    started = time.monotonic()
    try:
        run(args, folder, checks)
    except AssertionError as error:
        checks.check(False, str(error))
    finally:
        if checks.failed:
            for path in sorted(folder.glob("*.log")):
                log(f"--- last lines of {path}")
                print("\n".join(path.read_text(errors="replace").splitlines()[-25:]))
        if args.keep or checks.failed:
            log(f"files kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    log(f"took {time.monotonic() - started:.1f} s")
    return checks.summary("haproxy_replicas")


if __name__ == "__main__":
    sys.exit(main())
