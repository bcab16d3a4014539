#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine, run as root:
#   - the Debian packages the harness and its suites call;
#   - a virtualenv (default: <repo>/.venv) with netharness installed editable,
#     so that a guest VM (which sees the host filesystem) runs the same code.
# Usage: ci/setup.sh            (NETHARNESS_VENV=/path to put the venv elsewhere)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${NETHARNESS_VENV:-$repo/.venv}

packages=(
  # topology building and the suites' tools
  iproute2 ethtool jq netsniff-ng socat iputils-ping tcpdump iptables nftables kmod procps
  # booting kernels: QEMU, virtme-ng's needs, a busybox for its initramfs
  qemu-system-x86 busybox-static cpio zstd
  # building kernels: Debian's 6.12 tree and its toolchain
  linux-source-6.12 build-essential flex bison bc libelf-dev libssl-dev dwarves ccache
  python3-venv rsync
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "== Debian packages: all present"
fi

if [[ ! -x $venv/bin/python ]]; then
  echo "== creating virtualenv $venv"
  python3 -m venv "$venv"
fi
echo "== installing netharness into $venv"
"$venv/bin/pip" install -q --disable-pip-version-check -e "$repo[test]"
echo "== ready: $venv/bin/netharness, $venv/bin/pytest"
