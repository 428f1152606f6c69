#!/usr/bin/env bash
# Installs node_modules with `npm ci` when it is missing or package-lock.json changed since the last
# install. Current means: node_modules was installed from a lockfile with the same hash (stamped
# after each run), or npm's own record of the install (node_modules/.package-lock.json) is newer
# than package-lock.json (as after `npm install <pkg>`).
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.tradesage-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
reason=''
if [ ! -f node_modules/.package-lock.json ]; then
  reason='node_modules is missing'
elif [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  : # installed from exactly this lockfile
elif [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Changed by a pull or checkout since the last install (`npm install` updates both files, and
  # then node_modules is the newer one).
  reason='package-lock.json changed since the last install'
fi

if [ -n "$reason" ] && [ -L node_modules ]; then
  # A linked node_modules (a git worktree sharing another checkout's) is that checkout's to install:
  # `npm ci` here would empty the other checkout's folder and replace the link.
  echo "==> node_modules is a link ($reason): install it in the checkout it points to" >&2
  reason=''
fi
if [ -n "$reason" ]; then
  echo "==> npm ci ($reason)"
  npm ci --no-audit --no-fund
fi
echo "$want" >"$stamp"
