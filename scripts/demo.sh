#!/usr/bin/env bash
# The demo: installs what it needs, then brings up the 2-leaf fabric in network namespaces
# (no docker), shows BGP EVPN routes and the kernel FDB, pings across VXLAN, decodes the
# fabric's own BGP messages with evpnctl, and tears everything down. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec ./topologies/demo.sh
