/**
 * V8 CPU profiles of platform processes over chosen phases of a bench (Node 20 refuses `--cpu-prof`
 * in NODE_OPTIONS, which is how the run command's children are reached, and a whole-life profile
 * would be mostly start-up). Loaded (as JavaScript: bench/cpu-profile-control.ts builds it) with `NODE_OPTIONS=--import` and
 * `BENCH_CPU_PROFILE=<dir>:<bundle>[,<bundle>...]`, each process whose entry is `dist/<bundle>.js`
 * reads `<dir>/control` every 100 ms: `start <n>` starts the profiler, `stop <name>` writes
 * `<dir>/<bundle>-<name>.cpuprofile` (see bench/cpu-profile-control.ts). Every other process ignores it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const [dir = '', bundles = ''] = (process.env['BENCH_CPU_PROFILE'] ?? '').split(':');
const bundle = path.basename(process.argv[1] ?? '', '.js');
if (dir && bundle && bundles.split(',').includes(bundle)) {
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
          // Replicas of one bundle (make cluster): the first takes the plain name, others add their pid.
          const text = JSON.stringify(result.profile);
          try {
            writeFileSync(path.join(dir, `${bundle}-${name}.cpuprofile`), text, { flag: 'wx' });
          } catch {
            writeFileSync(path.join(dir, `${bundle}-${name}-${process.pid}.cpuprofile`), text);
          }
        }
      });
    }
  }, 100).unref();
}
