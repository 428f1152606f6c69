/**
 * A preload for benchmarks that look inside a platform process without changing how it runs
 * (`NODE_OPTIONS=--import <this file>` with BENCH_CONTROL_DIR set; plain JavaScript, so nothing else
 * is loaded). On SIGUSR2 the process reads `<dir>/<pid>.cmd` and answers in `<dir>/<pid>.out`:
 * `gc` runs a full garbage collection and answers process.memoryUsage() as JSON; `profile-start`
 * starts V8's sampling profiler, `profile-stop` writes `<dir>/<pid>.cpuprofile` (Chrome DevTools,
 * speedscope). Node 20 refuses `--cpu-prof` in NODE_OPTIONS, hence this.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import process from 'node:process';

const dir = process.env.BENCH_CONTROL_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  /** @param {string} ext */
  const file = (ext) => path.join(dir, `${process.pid}.${ext}`);
  /** @param {string} text */
  const answer = (text) => writeFileSync(file('out'), text);
  process.on('SIGUSR2', () => {
    let cmd = '';
    try {
      cmd = readFileSync(file('cmd'), 'utf8').trim();
    } catch {
      return;
    }
    if (cmd === 'gc') {
      session.post('HeapProfiler.collectGarbage', () => answer(JSON.stringify(process.memoryUsage())));
    } else if (cmd === 'profile-start') {
      session.post('Profiler.enable', () => session.post('Profiler.start', () => answer('started')));
    } else if (cmd === 'profile-stop') {
      session.post('Profiler.stop', (err, result) => {
        if (!err) writeFileSync(file('cpuprofile'), JSON.stringify(result.profile));
        answer('stopped');
      });
    }
  });
}
