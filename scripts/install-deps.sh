#!/usr/bin/env bash
# Installs the Debian 12 packages edgemq needs to build, run and test. Idempotent: only
# packages that are missing are installed, and apt is not touched when none are.
set -euo pipefail
BUILD_PKGS=(cmake g++ make ccache pkg-config
  libboost1.81-dev libboost-system1.81-dev libssl-dev libspdlog-dev nlohmann-json3-dev
  librocksdb-dev libcli11-dev libbenchmark-dev libyaml-cpp-dev librdkafka-dev libnats-dev)
# prometheus: promtool validates /metrics (test_admin); python3-jsonschema, python3-yaml: responses checked
# against docs/openapi.yaml. yamllint, systemd (systemd-analyze): the deployment recipes (test_deployment).
# mosquitto: the remote broker of the dataflow Mqtt endpoint tests; redis-server, redis-tools: the state
# store beside Redis (src/bench/statestore_vs_redis.py, smoke-tested by test_bench_statestore).
# etcd-server, etcd-client, nats-server: the cluster tests start three of each (docs/cluster.md);
# iproute2: their partition test's network namespaces. chromium: the headless browser test_dashboard drives
# (through playwright-core, below; no browser is downloaded by npm).
TEST_PKGS=(libgtest-dev libgmock-dev mosquitto mosquitto-clients python3-paho-mqtt python3 prometheus
  python3-jsonschema python3-yaml yamllint systemd redis-server redis-tools etcd-server etcd-client nats-server
  iproute2 chromium)
# scripts/sanitize.sh and scripts/fuzz.sh: clang and its sanitizer/libFuzzer runtimes (ADR 0010).
# .ci/run's format check needs Debian 12's clang-format 14 (formatting differs between versions).
SANITIZE_PKGS=(clang-14 clang libclang-rt-14-dev clang-format-14)
# --bench: what the benchmark scripts use beyond the build: python3-matplotlib draws the scaling plot
# of src/bench/compare.py (docs/adr/0031-routing-close-to-the-limit.md), strace counts syscalls per
# message (compare.py --syscalls) and fsyncs per message (bench-persistence.sh), mosquitto and Redis
# are the references.
BENCH_PKGS=(python3-matplotlib strace mosquitto redis-server redis-tools)
want=("${BUILD_PKGS[@]}")
[ "${1:-}" = "--bench" ] && want+=("${BENCH_PKGS[@]}")
[ "${1:-}" = "--test" ] && want+=("${TEST_PKGS[@]}")
[ "${1:-}" = "--sanitize" ] && want+=("${TEST_PKGS[@]}" "${SANITIZE_PKGS[@]}")
tests=false
[ "${1:-}" = "--test" ] || [ "${1:-}" = "--sanitize" ] && tests=true
# Node.js runs the browser test's driver and the Azure IoT SDK tests; a machine that already has it (with its npm) keeps it.
$tests && ! command -v npm >/dev/null && want+=(nodejs npm)

# The tests' npm packages, each pinned by its package-lock.json and installed with `npm ci`:
# playwright-core (tests/browser; no browser is downloaded: the test uses Debian's chromium) and the
# Azure IoT SDKs for Node.js (tests/devices: azure-iot-device, azure-iot-device-mqtt, azure-iothub).
install_node_packages() {
  local root dir marker dir_marker
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests"
  $tests || return 0
  for dir_marker in browser:playwright-core devices:azure-iothub; do
    dir="$root/${dir_marker%%:*}"
    marker="${dir_marker#*:}"
    if [ ! -d "$dir/node_modules/$marker" ]; then
      echo "installing: npm packages of tests/${dir_marker%%:*} (npm ci)"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
}
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  install_node_packages
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_node_packages
