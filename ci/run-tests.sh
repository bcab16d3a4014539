#!/usr/bin/env bash
# The project's own tests, as CI runs them (README: "Run the project's tests").
#   1. set-up (Debian packages, venv)              ci/setup.sh
#   2. the default kernel, cached outside the clone  netharness kernel build
#   3. unit tests (no root) and integration tests (root: namespaces, VMs)
#   4. the conformance suites on the host kernel (what it lacks is skipped)
#      and in a VM on the default kernel
# Run as root on Debian 12. Extra arguments go to every pytest call.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
"$repo/ci/setup.sh"
venv=${NETHARNESS_VENV:-$repo/.venv}
export PATH="$venv/bin:$PATH"

step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

step "default kernel"
netharness kernel build

step "unit and integration tests"
pytest -p no:cacheprovider tests/unit tests/integration "$@"

step "conformance suites on the host kernel"
pytest -p no:cacheprovider tests/net "$@"

step "conformance suites in VMs on the default kernel"
# One single-vCPU VM per CPU, at most 4 (2G each): TCG emulates each vCPU in
# one host thread, so on a 2-CPU runner two single-CPU guests finish the
# suites sooner than one two-CPU guest. NETHARNESS_VMS=N overrides.
cpus=$(nproc)
pytest -p no:cacheprovider --kernel default -n "${NETHARNESS_VMS:-$((cpus < 4 ? cpus : 4))}" --vm-cpus 1 tests/net "$@"
