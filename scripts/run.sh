#!/usr/bin/env bash
# The run command (`make dev`, `make prod`, `make cluster`): installs what is missing, bundles the
# sources into dist/ when they changed (scripts/build.ts), creates keys and .env when missing,
# prepares the database, then hands over to the orchestrator (dist/dev.js from scripts/dev.ts; the
# cluster's scripts/cluster.ts through tsx), which becomes this process (exec) so Ctrl-C and SIGTERM
# reach it directly.
# Usage: scripts/run.sh [dev|prod|cluster] [orchestrator flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-dev}
shift || true
orchestrator=scripts/dev.ts
case "$mode" in
  dev) ;; # NODE_ENV from the environment or .env; development by default (lib/config.ts)
  prod) export NODE_ENV=production ;;
  cluster) orchestrator=scripts/cluster.ts ;; # replicas, HAProxy, PgBouncer, Redis Sentinel (issue 12)
  *)
    echo "usage: $0 [dev|prod|cluster] [--stop-timeout=ms] [--start-timeout=ms] [--no-color] [--runner=dist|tsx]" >&2
    exit 2
    ;;
esac

if ! command -v node >/dev/null 2>&1; then
  echo 'error: Node.js 20.19+ is required (https://nodejs.org or your package manager).' >&2
  exit 1
fi
# 20.19: the bundles load ES module packages through require (scripts/build.ts).
major=$(node -p 'process.versions.node.split(".")[0]')
minor=$(node -p 'process.versions.node.split(".")[1]')
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
  echo "error: Node.js 20.19+ is required; this is $(node --version)." >&2
  exit 1
fi

bash scripts/ensure-deps.sh
bash scripts/ensure-services.sh --soft

# Fresh when every input listed by the last build (dist/.inputs) exists and is not newer than that
# list; scripts/build.ts checks the same (and that every bundle exists) before it builds.
dist_fresh() {
  [ -f dist/.inputs ] && [ -f dist/setup.js ] && [ -f dist/db-init.js ] && [ -f dist/dev.js ] || return 1
  local f
  while IFS= read -r f; do
    [ -e "$f" ] && ! [ "$f" -nt dist/.inputs ] || return 1
  done <dist/.inputs
}
if ! dist_fresh; then
  echo '==> build (dist/)'
  node --import tsx scripts/build.ts
fi
echo '==> setup (keys, .env)'
node dist/setup.js --quiet
echo '==> database'
node dist/db-init.js
# The gateway serves the built web desk at / in production (`make dev` runs Vite's dev server
# instead); built when missing or older than its sources.
if [ "$mode" = prod ] || [ "$mode" = cluster ]; then
  if [ ! -f web/dist/index.html ] ||
    [ -n "$(find web/src web/index.html web/vite.config.ts -newer web/dist/index.html -print -quit)" ]; then
    echo '==> web desk (vite build)'
    node node_modules/vite/bin/vite.js build --config web/vite.config.ts --logLevel warn
  fi
fi
if [ "$orchestrator" = scripts/dev.ts ]; then
  exec node dist/dev.js "$@"
fi
exec node --import tsx "$orchestrator" "$@"
