#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer. When one does not and
# this machine has it installed locally, starts it with the same command the machine image uses.
# Usage: ensure-services.sh [--soft]   (--soft: warn instead of failing; `make dev` then reports
# the connection error itself with the URL it tried).
set -euo pipefail
soft=0
[ "${1:-}" = '--soft' ] && soft=1

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 -t 2 >/dev/null 2>&1; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = 'PONG' ]; }
wait_for() {
  local check=$1
  for _ in $(seq 1 60); do
    "$check" && return 0
    sleep 0.5
  done
  return 1
}
fail() {
  if [ "$soft" = 1 ]; then
    echo "warning: $1" >&2
  else
    echo "error: $1" >&2
    exit 1
  fi
}

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "note: pg_isready not found; assuming PostgreSQL is reachable at the configured URL" >&2
elif ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo '==> starting PostgreSQL'
    for version in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
    done
  fi
  wait_for pg_up || fail 'PostgreSQL does not answer on 127.0.0.1:5432 (install PostgreSQL 15, or set DATABASE_*_URL)'
fi

if ! command -v redis-cli >/dev/null 2>&1; then
  echo "note: redis-cli not found; assuming Redis is reachable at the configured URL" >&2
elif ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo '==> starting Redis'
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  wait_for redis_up || fail 'Redis does not answer on 127.0.0.1:6379 (install Redis 7, or set REDIS_URL)'
fi
