#!/usr/bin/env bash
# Installs whatever the build, the tests and the benchmarks need and is missing: Debian packages
# with apt-get (as root), and the pinned npm tools in tools/ (buf for proto lint). Idempotent and
# silent when nothing is missing.
set -euo pipefail

cd "$(dirname "$0")/.."

packages=(
  # toolchain
  g++ make cmake ninja-build pkg-config git
  # gRPC and protobuf
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  # crypto
  libssl-dev openssl libsodium-dev
  # storage, config, logging, CLI
  libsqlite3-dev libspdlog-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  # policy engine and gpu-eval
  libre2-dev libopenblas-dev
  # tests and benchmarks; clang + libFuzzer build the fuzz targets
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-grpcio python3-protobuf
  clang libclang-rt-14-dev
  # peers the benchmarks measure against: an OCI registry (distribution 2.8) driven by curl
  docker-registry curl
)

# `deps.sh --bench` adds the peers and reference tools that only the benchmarks and the fixture
# scripts in examples/gpu-eval/ use: PyTorch (gpu-eval's peer), scikit-learn and numpy. They are
# large, and `make test` needs none of them (the fixtures they made are committed).
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch python3-sklearn python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node tools pinned by tools/package-lock.json (buf). Reinstalled only when the lock file changes.
if [[ -f tools/package-lock.json ]]; then
  stamp=tools/node_modules/.sov-lock-sha256
  want=$(sha256sum tools/package-lock.json | cut -d' ' -f1)
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "deps: installing node tools (tools/package-lock.json)"
    (cd tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" > "$stamp"
  fi
fi
