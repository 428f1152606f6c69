#!/usr/bin/env bash
# The test command (`make test`, and CI through .ci/run): installs what is missing, makes sure
# PostgreSQL, Redis and Chromium are there, then runs, stopping at the first failure:
#   formatting (prettier) -> lint (eslint, zero warnings) -> types (tsc) -> drift checks ->
#   unit, integration and end-to-end tests (vitest; its summary is the last thing printed).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step 'dependencies'
bash scripts/ensure-deps.sh
bash scripts/ensure-services.sh

# The GraphiQL browser test drives Debian's Chromium with playwright-core (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo 'installing chromium (apt-get)'
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo 'warning: chromium is missing and cannot be installed here (needs root and apt-get);' >&2
    echo '         install it (e.g. sudo apt-get install chromium) or the browser test fails.' >&2
  fi
fi

step 'format (prettier --check)'
npx prettier --check . --log-level warn
echo 'formatting ok'

step 'lint (eslint --max-warnings 0)'
npx eslint . --max-warnings 0
echo 'lint ok'

step 'types (tsc --noEmit)'
npx tsc -p . --noEmit
echo 'types ok'

step 'drift (supergraph, resolver types, migrations)'
bash scripts/check-drift.sh

step 'tests (vitest: unit, int, e2e)'
counts=data/test-results/counts.json
rm -f "$counts"
rc=0
npx vitest run --reporter=default --reporter=./scripts/vitest-counts.reporter.ts || rc=$?
# One plain closing line ("Tests: N passed, N failed, N skipped") that any CI log reader understands.
if [ -f "$counts" ]; then
  node -e '
    const c = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    console.log("Tests: " + c.passed + " passed, " + c.failed + " failed, " + c.skipped + " skipped");
  ' "$counts"
fi
exit "$rc"
