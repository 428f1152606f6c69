#!/usr/bin/env bash
# Drift checks (part of `make test`): generated files must be exactly what the generators produce
# from the sources.
#  1. schema/supergraph.graphql == composition of every subgraph's schema.graphql
#  2. subgraphs/*/src/generated and web/src/gql (the web desk's operation types) == GraphQL Code
#     Generator output (codegen.ts)
#  3. every drizzle config (drizzle*.config.ts, subgraphs/*/drizzle*.config.ts) passes
#     `drizzle-kit check` and `drizzle-kit generate` has nothing new to write.
# Read-only: the generators write into a temporary folder and the results are compared with the
# files in the work tree (in CI, the committed files). Fix drift with `make codegen` or
# `npx drizzle-kit generate --config <config>`, then commit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

echo '--> supergraph composition (schema/supergraph.graphql)'
node --import tsx schema/compose.ts --check || status=1

echo '--> resolver types (graphql-codegen)'
cat >"$tmp/codegen.ts" <<TS
import config from '$root/codegen.ts';
const generates = Object.fromEntries(
  Object.entries(config.generates).map(([file, options]) => ['$tmp/out/' + file, options]),
);
export default { ...config, generates };
TS
if npx graphql-codegen --config "$tmp/codegen.ts" >"$tmp/codegen.log" 2>&1; then
  while IFS= read -r -d '' file; do
    rel=${file#"$tmp/out/"}
    if ! diff -u "$rel" "$file" >"$tmp/diff" 2>&1; then
      echo "    $rel is out of date: run \`make codegen\` and commit the result" >&2
      head -30 "$tmp/diff" >&2
      status=1
    fi
  done < <(find "$tmp/out" -type f -print0)
  [ "$status" -eq 0 ] && echo '    resolver types are up to date'
else
  cat "$tmp/codegen.log" >&2
  echo '    graphql-codegen failed' >&2
  status=1
fi

echo '--> drizzle migrations'
shopt -s nullglob
configs=(drizzle*.config.ts subgraphs/*/drizzle*.config.ts)
shopt -u nullglob
[ ${#configs[@]} -eq 0 ] && echo '    (no drizzle configs)'
n=0
for config in "${configs[@]}"; do
  n=$((n + 1))
  out=$(sed -nE "s/^[[:space:]]*out:[[:space:]]*['\"]([^'\"]+)['\"].*/\1/p" "$config" | head -1)
  out=${out#./}
  if [ -z "$out" ]; then
    echo "    $config: no \`out:\` folder found in the config" >&2
    status=1
    continue
  fi
  # drizzle-kit wants `out` relative to the working directory.
  copy="$tmp/drizzle/$n"
  mkdir -p "$copy"
  [ -d "$out" ] && cp -R "$out/." "$copy/"
  cat >"$tmp/drizzle-$n.config.ts" <<TS
import config from '$root/$config';
export default { ...config, out: '$(realpath --relative-to=. "$copy")' };
TS
  if ! npx drizzle-kit check --config "$tmp/drizzle-$n.config.ts" </dev/null >"$tmp/drizzle.log" 2>&1; then
    cat "$tmp/drizzle.log" >&2
    echo "    $config: drizzle-kit check failed" >&2
    status=1
  elif ! npx drizzle-kit generate --config "$tmp/drizzle-$n.config.ts" </dev/null >"$tmp/drizzle.log" 2>&1; then
    cat "$tmp/drizzle.log" >&2
    echo "    $config: drizzle-kit generate failed" >&2
    status=1
  elif [ -n "$(diff -rq "$out" "$copy" 2>&1)" ]; then
    echo "    $config: the drizzle schema has changes that no migration covers. Run" >&2
    echo "      npx drizzle-kit generate --config $config --name=<what-changed>" >&2
    echo "    then review the SQL and commit it. It would write:" >&2
    (cd "$copy" && find . -type f -newer "$tmp/drizzle-$n.config.ts" | sed 's/^\./      '"${out//\//\\/}"'/') >&2
    status=1
  else
    echo "    $config: up to date"
  fi
done

if [ "$status" -ne 0 ]; then
  echo 'drift check FAILED' >&2
  exit 1
fi
echo 'drift check passed'
