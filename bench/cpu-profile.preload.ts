/**
 * A preload for benchmarks that profile one phase of a platform process (`--import tsx --import
 * <this file>` in NODE_OPTIONS; Node 20 refuses `--cpu-prof` there): SIGUSR2 starts V8's sampling
 * profiler, the next SIGUSR2 stops it and writes `<BENCH_CPU_PROFILE_DIR>/<pid>.cpuprofile` (open it
 * in Chrome DevTools or speedscope).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env['BENCH_CPU_PROFILE_DIR'];
if (dir) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
