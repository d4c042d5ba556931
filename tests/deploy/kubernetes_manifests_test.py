#!/usr/bin/env python3
"""The Kubernetes manifests (deploy/kubernetes/) and the container build file (deploy/Containerfile).

No cluster and no container engine run here, so this checks what can be checked without them:

1. every manifest validates against the Kubernetes API schemas that kubernetes-validate bundles
   (strict: an unknown field is an error; a kind without a schema is an error too), for the
   oldest and the newest Kubernetes this test names;
2. the pieces fit together: kustomization.yaml lists every manifest, the Services, the PDB and
   the HPA select or name the Deployment's pods, the Job fills the volume the replicas read, the
   probes' port is the one the container listens on, terminationGracePeriodSeconds outlasts the
   shutdown delay plus the drain, the API key comes from a Secret, the cache is read offline;
3. the Deployment's container, run on this host as the real `hades` with the manifest's
   arguments and environment (only the addresses and paths moved to a private folder and a
   loopback port): /ready answers 200 once the preload has loaded; /health is 200;
   /metrics has the HPA's Pods metric as a gauge; SIGTERM turns /ready to 503 at once, and the
   process exits 0 well within the grace period;
4. the Containerfile builds with the repository's `make`, copies only what its ignore file lets
   into the context, runs as the Deployment's user on its port, and installs a Debian package for
   every shared library the built program needs (by `dpkg -S` on this Debian host).

Run: build/py-venv/bin/python tests/deploy/kubernetes_manifests_test.py (needs PyYAML and
kubernetes-validate, pinned in tests/python/requirements.lock). $HADES_BIN names the program
(default build/hades), $HADES_TEST_HF_CACHE a Hugging Face cache holding all-MiniLM-L6-v2 (default
build/hf-hub).
"""

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import yaml

from deploy_support import Checks, free_port, http_get, http_status, wait_for

try:
    import kubernetes_validate
except ImportError:  # reported as a failed check, naming the lock file
    kubernetes_validate = None

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "deploy" / "kubernetes"
CONTAINERFILE = REPO / "deploy" / "Containerfile"
# The oldest Kubernetes still widely run, and the newest kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")


def load_manifests() -> Dict[str, List[Dict[str, Any]]]:
    """Each YAML file of deploy/kubernetes with the documents it holds."""
    return {path.name: [d for d in yaml.safe_load_all(path.read_text()) if d]
            for path in sorted(MANIFESTS.glob("*.yaml"))}


def resources(manifests: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Dict[str, Any]]:
    """The Kubernetes objects, by "Kind/name"."""
    return {f"{d['kind']}/{d['metadata']['name']}": d
            for name, docs in manifests.items() if name != "kustomization.yaml" for d in docs}


# --- 1. schemas --------------------------------------------------------------------------------


def check_schemas(checks: Checks, objects: Dict[str, Dict[str, Any]]) -> None:
    if kubernetes_validate is None:
        checks.check(False, "kubernetes-validate is importable (pinned in "
                     "tests/python/requirements.lock; make python-venv)")
        return
    for version in KUBERNETES_VERSIONS:
        for key, obj in objects.items():
            try:
                kubernetes_validate.validate(obj, version, strict=True)
                checks.check(True, f"{key} is valid for Kubernetes {version} (strict)")
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(p) for p in error.path)
                checks.check(False, f"{key} for Kubernetes {version}: {path}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                checks.check(False, f"{key} for Kubernetes {version}: {error.message}")


# --- 2. the pieces fit -------------------------------------------------------------------------


def container(deployment: Dict[str, Any]) -> Dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def flag_values(args: List[str]) -> Dict[str, str]:
    return dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)


def env_of(spec: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {e["name"]: e for e in spec.get("env", [])}


def check_fit(checks: Checks, manifests: Dict[str, List[Dict[str, Any]]],
              objects: Dict[str, Dict[str, Any]]) -> None:
    listed = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    others = sorted(n for n in manifests if n != "kustomization.yaml")
    checks.check(sorted(listed) == others, f"kustomization.yaml lists every manifest ({listed})")

    deployment = objects["Deployment/hades"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    selects = lambda selector: all(labels.get(k) == v for k, v in selector.items())  # noqa: E731
    checks.check(selects(deployment["spec"]["selector"]["matchLabels"]),
                 "the Deployment's selector matches its pods")
    for key in ("Service/hades", "Service/hades-replicas"):
        checks.check(selects(objects[key]["spec"]["selector"]), f"{key} selects the pods")
    checks.check(selects(objects["PodDisruptionBudget/hades"]["spec"]["selector"]["matchLabels"]),
                 "the PodDisruptionBudget selects the pods")
    target = objects["HorizontalPodAutoscaler/hades"]["spec"]["scaleTargetRef"]
    checks.check((target["kind"], target["name"]) == ("Deployment", "hades"),
                 "the HPA scales the Deployment")

    hades = container(deployment)
    flags = flag_values(hades["args"])
    port = int(flags["listen"].rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in hades["ports"]}
    checks.check(ports.get("http") == port, f"the container port 'http' is --listen's ({port})")
    for key in ("Service/hades", "Service/hades-replicas"):
        checks.check(all(p["targetPort"] in ports for p in objects[key]["spec"]["ports"]),
                     f"{key} targets a named port of the container")
    probes = {name: (hades[name]["httpGet"]["path"], hades[name]["httpGet"]["port"])
              for name in ("startupProbe", "readinessProbe", "livenessProbe")}
    checks.check(probes == {"startupProbe": ("/ready", "http"), "readinessProbe": ("/ready", "http"),
                            "livenessProbe": ("/health", "http")},
                 f"startup and readiness on /ready, liveness on /health ({probes})")
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    stopping = float(flags.get("shutdown-delay", 0)) + float(flags.get("drain-timeout", 30))
    checks.check(grace > stopping, f"terminationGracePeriodSeconds {grace} > shutdown delay + "
                 f"drain timeout ({stopping:g} s)")

    env = env_of(hades)
    key_ref = env.get("HADES_API_KEY", {}).get("valueFrom", {}).get("secretKeyRef")
    checks.check(bool(key_ref), f"HADES_API_KEY comes from a Secret ({key_ref})")
    checks.check(env.get("HF_HUB_OFFLINE", {}).get("value") == "1", "HF_HUB_OFFLINE=1")
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in hades["volumeMounts"]}
    cache = env["HF_HUB_CACHE"]["value"]
    cache_mount = next((m for path, m in mounts.items() if cache.startswith(path + "/")), None)
    claim = volumes[cache_mount["name"]].get("persistentVolumeClaim", {}) if cache_mount else {}
    checks.check(bool(claim) and cache_mount.get("readOnly") is True,
                 f"the cache {cache} is on a volume claim, mounted read-only ({claim})")
    checks.check(env.get("OMP_NUM_THREADS", {}).get("valueFrom", {}).get("resourceFieldRef", {})
                 .get("resource") == "limits.cpu", "OMP_NUM_THREADS follows the CPU limit")
    requests, limits = hades["resources"]["requests"], hades["resources"]["limits"]
    checks.check(requests == limits, f"requests equal limits (Guaranteed): {limits}")

    job = objects["Job/hades-model-pull"]["spec"]["template"]["spec"]
    job_claims = {v["persistentVolumeClaim"]["claimName"] for v in job["volumes"]}
    checks.check(job_claims == {claim.get("claimName")} and
                 f"PersistentVolumeClaim/{claim.get('claimName')}" in objects,
                 f"the Job fills the claim the replicas read ({job_claims})")
    job_cache = env_of(job["containers"][0])["HF_HUB_CACHE"]["value"]
    checks.check(job_cache == cache, f"the Job writes the cache path the replicas read ({job_cache})")


# --- 3. the Deployment's container on this host ------------------------------------------------


def pod_environment(hades: Dict[str, Any], folder: Path, cache: Path) -> Dict[str, str]:
    """The manifest's environment, with the Secret, the resource field and the paths filled in as
    the kubelet would, but pointing at this host's files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HADES_", "HF_", "OMP_"))}
    for name, entry in env_of(hades).items():
        if "value" in entry:
            env[name] = entry["value"]
    env["HADES_API_KEY"] = "hk-" + secrets.token_hex(16)
    env["OMP_NUM_THREADS"] = "1"
    env["HADES_MODEL_MGR_SOCKET"] = str(folder / "hades.sock")
    env["HF_HUB_CACHE"] = str(cache)
    return env


def check_pod_on_host(checks: Checks, objects: Dict[str, Dict[str, Any]], folder: Path) -> None:
    deployment = objects["Deployment/hades"]
    hades = container(deployment)
    binary = Path(os.environ.get("HADES_BIN", REPO / "build" / "hades"))
    cache = Path(os.environ.get("HADES_TEST_HF_CACHE", REPO / "build" / "hf-hub"))
    port = free_port()
    args = [f"--listen=127.0.0.1:{port}" if a.startswith("--listen=") else a
            for a in hades["args"]]
    env = pod_environment(hades, folder, cache)
    with open(folder / "stderr", "wb") as stderr:
        process = subprocess.Popen([str(binary), *args], env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        wait_for("the TCP listener", lambda: process.poll() is None and http_status(port, "/health"))
        status, body = http_get(port, "/ready")
        print(f"           first /ready: {status} {body.decode()}")
        wait_for("/ready 200 (the preload loaded)", lambda: http_status(port, "/ready") == 200)
        preload = env["HADES_PRELOAD"].split("?", 1)[0]
        body = json.loads(http_get(port, "/ready")[1])
        checks.check(preload in json.dumps(body), f"/ready 200 once {preload} is loaded: {body}")
        checks.check(http_status(port, "/health") == 200, "/health 200 without a key (liveness)")
        metric = objects["HorizontalPodAutoscaler/hades"]["spec"]["metrics"][0]["pods"]["metric"]
        metrics = http_get(port, "/metrics")[1].decode()
        checks.check(f"# TYPE {metric['name']} gauge" in metrics,
                     f"/metrics has the HPA's Pods metric {metric['name']} as a gauge")
        stop_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        wait_for("/ready 503 after SIGTERM", lambda: http_status(port, "/ready") == 503)
        checks.check(time.monotonic() - stop_at < 2.0,
                     "/ready 503 within 2 s of SIGTERM, while the shutdown delay runs")
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        code = process.wait(timeout=grace)
        took = time.monotonic() - stop_at
        checks.check(code == 0 and took < grace,
                     f"exit {code} {took:.1f} s after SIGTERM (grace period {grace} s)")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- 4. the container build file ---------------------------------------------------------------


def owning_package(path: str) -> str:
    """The Debian package that installed PATH, by dpkg -S, under either name merged /usr gives it."""
    real = os.path.realpath(path)
    for candidate in (path, real, real.replace("/usr/lib/", "/lib/", 1),
                      real.replace("/lib/", "/usr/lib/", 1)):
        owner = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if owner.returncode == 0:
            return owner.stdout.split(":", 1)[0]
    return ""


def needed_packages(binary: Path) -> Dict[str, str]:
    """Debian package of each shared library BINARY names (NEEDED), as the loader finds it."""
    dynamic = subprocess.run(["objdump", "-p", str(binary)], capture_output=True, text=True,
                             check=True).stdout
    found = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(
        ["ldd", str(binary)], capture_output=True, text=True, check=True).stdout, flags=re.MULTILINE))
    return {library: owning_package(found.get(library, library))
            for library in re.findall(r"^\s*NEEDED\s+(\S+)$", dynamic, flags=re.MULTILINE)}


def check_containerfile(checks: Checks, objects: Dict[str, Dict[str, Any]]) -> None:
    text = CONTAINERFILE.read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    checks.check(len(stages) == 2 and stages[0].startswith("debian:12 AS build")
                 and stages[1].startswith("debian:12-slim"),
                 "two stages: build on debian:12, run on debian:12-slim")
    build, run = stages
    checks.check(re.search(r"^RUN make build\b", build, flags=re.MULTILINE) is not None,
                 "the build stage runs the repository's `make build`")
    copied = re.findall(r"^COPY (?!--)(.+) \S+$", build, flags=re.MULTILINE)
    sources = [s for line in copied for s in line.split()]
    allowed = [ln[1:] for ln in (CONTAINERFILE.parent / "Containerfile.dockerignore").read_text()
               .splitlines() if ln.startswith("!")]
    checks.check(sorted(sources) == sorted(allowed),
                 f"the ignore file lets in exactly what the build copies ({sources})")

    hades = container(objects["Deployment/hades"])
    pod_security = objects["Deployment/hades"]["spec"]["template"]["spec"]["securityContext"]
    user = re.search(r"^USER (\d+):(\d+)$", run, flags=re.MULTILINE)
    checks.check(user is not None and int(user.group(1)) == pod_security["runAsUser"]
                 and int(user.group(2)) == pod_security["runAsGroup"],
                 "the image's user is the Deployment's runAsUser/runAsGroup")
    expose = re.search(r"^EXPOSE (\d+)$", run, flags=re.MULTILINE)
    checks.check(expose is not None and int(expose.group(1)) == hades["ports"][0]["containerPort"],
                 "the image exposes the container port")
    command = json.loads(re.search(r"^CMD (\[.*\])$", run, flags=re.MULTILINE).group(1))
    checks.check(f"--listen=0.0.0.0:{expose.group(1) if expose else ''}" in command,
                 f"the image's default command listens on all addresses ({command})")

    install = re.search(r"apt-get install[^\n]*((?:\n[^\n]*\\)*\n[^\n]*)", run)
    installed = set(re.findall(r"\b([a-z0-9][a-z0-9.+-]+[0-9a-z])\b", install.group(0))) \
        if install else set()
    binary = Path(os.environ.get("HADES_BIN", REPO / "build" / "hades"))
    base = {"libc6", "libgcc-s1"}  # required packages, in every Debian 12 image
    for library, package in needed_packages(binary).items():
        checks.check(package in installed or package in base,
                     f"{library} ({package or 'no package found'}) is installed in the image")


def main() -> int:
    checks = Checks()
    folder = Path(tempfile.mkdtemp(prefix="hades-k8s-", dir="/tmp"))
    try:
        manifests = load_manifests()
        objects = resources(manifests)
        check_schemas(checks, objects)
        check_fit(checks, manifests, objects)
        check_containerfile(checks, objects)
        check_pod_on_host(checks, objects, folder)
    except (AssertionError, KeyError, subprocess.SubprocessError) as error:
        checks.check(False, f"{type(error).__name__}: {error}")
    finally:
        if checks.failed and (folder / "stderr").exists():
            print((folder / "stderr").read_text(errors="replace")[-3000:])
        shutil.rmtree(folder, ignore_errors=True)
    return checks.summary("kubernetes_manifests")


if __name__ == "__main__":
    sys.exit(main())
