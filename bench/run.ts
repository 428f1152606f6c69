/**
 * `make bench`: runs the benchmarks one after another and prints their figures. Figures are recorded
 * in BENCHMARKS.md by hand, with the command and the machine.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const benches = [
  'bench/gateway-overhead.ts',
  'bench/otel-overhead.ts',
  'bench/subscription-fanout.ts',
  'bench/provisioning.ts',
  'bench/feed-ingestion.ts',
  'bench/backup-pipeline.ts',
  'bench/nightly-backups.ts',
  'bench/trading-orders.ts',
  'bench/trading-book.ts',
  'bench/analytics-report.ts',
  'bench/analytics-ingest.ts',
  'bench/cold-start.ts',
  'bench/web-desk.ts',
];
const only = process.argv.slice(2);
let failed = 0;
for (const b of benches
  .filter((x) => existsSync(x))
  .filter((x) => only.length === 0 || only.some((o) => x.includes(o)))) {
  console.log(`\n== ${b}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', b], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
