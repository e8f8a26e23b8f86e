#!/usr/bin/env bash
# Prints the release's addresses as the constants test computes them, and rewrites the constants in
# crates/contracts/src/release.rs to match (after a contract change: then update docs/deployment.md).
set -euo pipefail
cd "$(dirname "$0")/.."
left=$(cargo test -q -p leash-contracts -p leash-core --lib release::tests::the_release 2>&1 | grep -A4 "left:" || true)
if [ -z "$left" ]; then echo "the constants are up to date"; exit 0; fi
mapfile -t found < <(echo "$left" | grep -oE '0x[0-9a-fA-F]{40}' | head -3)
for i in 0 1 2; do
  name=(ACCOUNT_IMPLEMENTATION SESSION_KEY_VALIDATOR ACCOUNT_FACTORY)
  sed -i -E "s/(pub const ${name[$i]}: Address = address!\(\")[0-9a-fA-F]{40}/\1${found[$i]#0x}/" crates/contracts/src/release.rs
  echo "${name[$i]} ${found[$i]}"
done
