#!/usr/bin/env bash
# Installs Pimlico's ERC-4337 bundler, alto, at the version the third-party bundler tests run (npm), into
# target/alto, and binds it to the loopback: its listen address is written into its server as every interface
# (0.0.0.0), which a test must not open to the network. Prints the path of its command.
#
# 0.0.18: its ERC-7562 safe mode works with EntryPoint v0.7 against anvil (0.0.20's fails every v0.7 operation
# with an undecoded `DelegateAndRevert` error).
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.0.18
dir=target/alto
bin="$dir/node_modules/.bin/alto"
installed=$(node -p "require('./$dir/node_modules/@pimlico/alto/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$version" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  echo '{ "private": true }' > "$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "@pimlico/alto@$version" >&2
fi
patched=0
for server in "$dir"/node_modules/@pimlico/alto/{esm,lib}/rpc/server.js; do
  sed -i 's/host: "0\.0\.0\.0"/host: "127.0.0.1"/' "$server"
  grep -q 'host: "127.0.0.1"' "$server" && patched=$((patched + 1))
  if grep -q '0\.0\.0\.0' "$server"; then
    echo "alto's $server still listens on every interface" >&2
    exit 1
  fi
done
[ "$patched" -eq 2 ] || { echo "alto's listen address was not found to patch" >&2; exit 1; }
realpath "$bin"
