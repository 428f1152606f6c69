#!/usr/bin/env bash
# The run command (`make dev`, `make prod`): installs what is missing, creates keys and .env when
# missing, prepares the database, then hands over to the orchestrator (scripts/dev.ts), which
# becomes this process (exec) so Ctrl-C and SIGTERM reach it directly.
# Usage: scripts/run.sh [dev|prod] [orchestrator flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-dev}
shift || true
case "$mode" in
  dev) ;; # NODE_ENV from the environment or .env; development by default (lib/config.ts)
  prod) export NODE_ENV=production ;;
  *)
    echo "usage: $0 [dev|prod] [--stop-timeout=ms] [--start-timeout=ms] [--no-color]" >&2
    exit 2
    ;;
esac

if ! command -v node >/dev/null 2>&1; then
  echo 'error: Node.js 20.11+ is required (https://nodejs.org or your package manager).' >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "error: Node.js 20.11+ is required; this is $(node --version)." >&2
  exit 1
fi

bash scripts/ensure-deps.sh
bash scripts/ensure-services.sh --soft
echo '==> setup (keys, .env)'
node --import tsx scripts/setup.ts --quiet
echo '==> database'
node --import tsx scripts/db-init.ts
if [ "$mode" = prod ]; then
  # The gateway serves the built web desk at / in production (`make dev` runs Vite's dev server instead).
  echo '==> web desk (vite build)'
  node node_modules/vite/bin/vite.js build --config web/vite.config.ts --logLevel warn
fi
exec node --import tsx scripts/dev.ts "$@"
