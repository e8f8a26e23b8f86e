#!/usr/bin/env bash
# PostgreSQL for the service's tests and `leash serve --devnet`: nothing to do when its server programs are
# installed; otherwise Debian's (or Ubuntu's) package is installed, as root or through sudo.
set -euo pipefail
has_server() {
  local dir
  dir=$(pg_config --bindir 2>/dev/null || true)
  [[ -n "$dir" && -x "$dir/initdb" ]] && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
has_server && exit 0
if ! command -v apt-get >/dev/null; then
  echo "PostgreSQL is not installed and this is not a Debian-like system: install PostgreSQL 15 or newer" >&2
  echo "(its server programs, initdb and postgres) and run again, or point LEASH_PG_BIN at them." >&2
  exit 1
fi
run=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "installing PostgreSQL needs root: run 'apt-get install postgresql' as root" >&2; exit 1; }
  run=(sudo -n)
fi
echo "installing PostgreSQL from the distribution's packages" >&2
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends postgresql >/dev/null
has_server
