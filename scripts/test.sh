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

# System tools the tests drive for real, from Debian's packages (no downloads at run time):
#   chromium        the GraphiQL browser test (playwright-core, no browser download)
#   openssh-server  the MA130 backup tests start their own sshd on loopback
#   prometheus      promtool checks the alert rules; the alerting end-to-end test runs Prometheus
#   prometheus-alertmanager  the alerting end-to-end test sends alerts to a real Alertmanager
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
# haproxy, pgbouncer, redis-sentinel: the cluster and chaos tests start their own (issue 12)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "warning: missing ${need[*]} and cannot install here (needs root and apt-get);" >&2
    echo '         install them or the browser, backup, alert-rule and alerting tests fail.' >&2
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
npx tsc -p web --noEmit
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
