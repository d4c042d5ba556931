#!/usr/bin/env bash
# Installs every system dependency of hades from Debian's packages.
# Idempotent: packages already present are skipped without touching apt.
# Works as root, or as a user with sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config python3 python3-venv
  ccache  # CMakeLists.txt compiles through it where present
  libdnnl-dev ocl-icd-opencl-dev opencl-headers  # dnnl-config.cmake requires OpenCL (Debian builds its GPU runtime on it)
  libboost1.81-dev
  libcurl4-openssl-dev
  libssl-dev  # libcrypto: SHA-256 of downloaded weights
  nlohmann-json3-dev
  libutf8proc-dev
  libpcre2-dev
  libcli11-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  clang libclang-rt-14-dev  # make test-fuzz: clang 14 and its runtime, which ships libFuzzer
  clang-tidy-14  # make tidy (run-clang-tidy-14)
  haproxy  # tests/deploy: the load balancer of deploy/haproxy in front of replicas
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all system dependencies present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo_cmd=()
elif command -v sudo >/dev/null 2>&1; then
  sudo_cmd=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and neither root nor sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
