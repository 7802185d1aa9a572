#!/usr/bin/env bash
# Installs what evpnd's tests and labs need on a Debian machine (run as root).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (the labs and kernel tests use network namespaces)" >&2
  exit 1
fi

pkgs=(frr gobgpd iproute2 iputils-ping iputils-arping tcpdump tshark procps psmisc)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  apt-get update -qq
  # tshark asks whether non-root users may capture; the answer does not matter here.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "install-deps: installing the Rust toolchain with rustup"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl build-essential >/dev/null
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  fi
fi
