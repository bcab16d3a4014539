#!/usr/bin/env bash
# The conformance suites (README: "Run the conformance suites"): set-up, the
# default kernel (built once, cached in ~/.cache/netharness), then
# tests/net in a VM on it. Extra arguments go to pytest (default: tests/net).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
"$repo/ci/setup.sh"
venv=${NETHARNESS_VENV:-$repo/.venv}
"$venv/bin/netharness" kernel build
# One single-vCPU VM per CPU, at most 4 (2G each): TCG runs each vCPU in one
# host thread. NETHARNESS_VMS=N overrides.
cpus=$(nproc)
vms=${NETHARNESS_VMS:-$((cpus < 4 ? cpus : 4))}
if (($#)); then
  exec "$venv/bin/pytest" --kernel default -n "$vms" --vm-cpus 1 "$@"
fi
exec "$venv/bin/pytest" --kernel default -n "$vms" --vm-cpus 1 tests/net
