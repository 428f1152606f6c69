/**
 * A silent vitest reporter for `make test`: it writes the run's counts to
 * data/test-results/counts.json so scripts/test.sh can print one plain closing line
 * ("Tests: N passed, N failed, N skipped") after vitest's own summary, which CI log readers
 * understand. It prints nothing itself, so the default reporter's output stays as it is.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { PROJECT_ROOT } from '../lib/config.js';

/** Where the counts go. */
export const COUNTS_FILE = path.join(PROJECT_ROOT, 'data', 'test-results', 'counts.json');

/** Counts of one run. */
export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Tallies test cases by state. A file that failed outside its tests (an import error, a failing
 * beforeAll: its tests are then reported as skipped) counts as one more failure, and so does every
 * unhandled error, so a broken file can never read as "0 failed".
 */
export function countTests(modules: ReadonlyArray<TestModule>, unhandledErrors: number): TestCounts {
  const counts: TestCounts = { passed: 0, failed: unhandledErrors, skipped: 0 };
  for (const m of modules) {
    let failedTests = 0;
    for (const t of m.children.allTests()) {
      const state = t.result().state;
      if (state === 'passed') counts.passed += 1;
      else if (state === 'failed') failedTests += 1;
      else counts.skipped += 1;
    }
    counts.failed += failedTests;
    if (failedTests === 0 && m.state() === 'failed') counts.failed += 1;
  }
  return counts;
}

class CountsReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    mkdirSync(path.dirname(COUNTS_FILE), { recursive: true });
    writeFileSync(COUNTS_FILE, `${JSON.stringify(countTests(modules, unhandledErrors.length))}\n`);
  }
}

// vitest loads a custom reporter from the module's default export.
// eslint-disable-next-line no-restricted-syntax
export default CountsReporter;
