#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/property/golden tests, kernel tests in
# network namespaces, and interop tests against FRR and GoBGP. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo build (the lab tests run the evpnd and evpnlab binaries)"
cargo build --workspace --bins
echo "== cargo test"
# Kernel and lab tests create their own namespaces; keep them from piling up on 2 cores.
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-2}"
