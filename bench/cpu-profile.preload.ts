/**
 * A V8 CPU profile of one platform process, for benches (Node 20 refuses `--cpu-prof` in NODE_OPTIONS,
 * which is how the run command's children are reached): loaded with
 * `NODE_OPTIONS="--import tsx --import <this file>"` and `BENCH_CPU_PROFILE=<dir>:<bundle>`, the process whose entry
 * is `dist/<bundle>.js` profiles itself through the inspector from start to exit and writes
 * `<dir>/<bundle>-<pid>.cpuprofile`. Every other process ignores it.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const [dir = '', bundle = ''] = (process.env['BENCH_CPU_PROFILE'] ?? '').split(':');
const entry = process.argv[1] ?? '';
if (dir && bundle && path.basename(entry) === `${bundle}.js`) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  // The default 1 ms interval: fine enough for a bench of several seconds, light enough to keep.
  session.post('Profiler.start');
  process.once('exit', () => {
    // An in-process session answers synchronously, so this completes inside the exit handler.
    session.post('Profiler.stop', (err, result) => {
      if (!err && result)
        writeFileSync(path.join(dir, `${bundle}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
