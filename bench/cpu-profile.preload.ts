/**
 * V8 CPU profiles of one platform process over chosen phases of a bench (Node 20 refuses `--cpu-prof`
 * in NODE_OPTIONS, which is how the run command's children are reached, and a whole-life profile
 * would be mostly start-up). Loaded (as JavaScript: bench/gateway-deployed.ts builds it) with `NODE_OPTIONS=--import` and
 * `BENCH_CPU_PROFILE=<dir>:<bundle>`, the process whose entry is `dist/<bundle>.js` reads
 * `<dir>/control` every 100 ms: `start <n>` starts the profiler, `stop <name>` writes
 * `<dir>/<bundle>-<name>.cpuprofile` (see {@link profilePhase}). Every other process ignores it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const [dir = '', bundle = ''] = (process.env['BENCH_CPU_PROFILE'] ?? '').split(':');
const entry = process.argv[1] ?? '';
if (dir && bundle && path.basename(entry) === `${bundle}.js`) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  let seen = '';
  let profiling = false;
  setInterval(() => {
    let command: string;
    try {
      command = readFileSync(path.join(dir, 'control'), 'utf8').trim();
    } catch {
      return;
    }
    if (command === seen) return;
    seen = command;
    const [verb, name = 'profile'] = command.split(' ');
    if (verb === 'start' && !profiling) {
      profiling = true;
      session.post('Profiler.start');
    } else if (verb === 'stop' && profiling) {
      profiling = false;
      session.post('Profiler.stop', (err, result) => {
        if (!err && result) {
          writeFileSync(path.join(dir, `${bundle}-${name}.cpuprofile`), JSON.stringify(result.profile));
        }
      });
    }
  }, 100).unref();
}
