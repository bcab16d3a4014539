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
if (($#)); then
  exec "$venv/bin/pytest" --kernel default "$@"
fi
exec "$venv/bin/pytest" --kernel default tests/net
