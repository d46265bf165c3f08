#!/usr/bin/env bash
# Installs what Berth needs on a Debian machine, skipping whatever is already there:
# the npm packages of package-lock.json, and the Debian packages below: the servers, the
# platforms' runtimes (runc, crun, a Docker engine Berth can start when the host runs none,
# Podman, LXC, QEMU, libvirt's daemon and client) and what the guest image is built with; openssl makes the
# fleet's certificates for `berth nats-config --tls`. With --test, also what only the tests
# need (the browser the dashboard tests drive, and xmllint, which virt-xml-validate checks the
# domain XML with).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(nats-server clickhouse-server runc crun qemu-system-x86 busybox-static cpio xz-utils libvirt-clients libvirt-daemon-system openssl docker.io podman lxc)
TEST_APT_PACKAGES=(chromium libxml2-utils)
if [ "${1:-}" = "--test" ]; then
  APT_PACKAGES+=("${TEST_APT_PACKAGES[@]}")
fi

say() { printf 'setup: %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is needed (found $(node --version))"
  exit 1
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Install when node_modules is missing or older than the lock file. `npm install` rather than
# `npm ci`: the lock file cannot list the optional platform packages this registry lacks.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm install --no-audit --no-fund --no-save --loglevel=error
fi

# The compiled Berth that bin/berth.js runs (dist/<hash of the sources>/), built when the
# sources changed since the last build.
node bin/dist.js
