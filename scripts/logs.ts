/**
 * `make logs` / `make auth-logs` / `make tenant-logs`: follows the raw logs the run command writes
 * to data/logs/<name>.log, formatted like the run command's own output.
 * Usage: logs.ts [name ...] [--lines=N] [--no-follow]   (no name: every process)
 */
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { createLineFormatter, loadToolConfig, logFile, platformProcesses } from './platform.js';

function main(): void {
  const args = process.argv.slice(2);
  const lines = args.find((a) => a.startsWith('--lines='))?.split('=')[1] ?? '100';
  const follow = !args.includes('--no-follow');
  const config = loadToolConfig();
  const all = platformProcesses(config);
  const wanted = args.filter((a) => !a.startsWith('--'));
  const unknown = wanted.filter((w) => !all.some((p) => p.name === w));
  if (unknown.length > 0) {
    console.error(`unknown process(es): ${unknown.join(', ')}; known: ${all.map((p) => p.name).join(', ')}`);
    process.exit(2);
  }
  const selected = wanted.length > 0 ? all.filter((p) => wanted.includes(p.name)) : all;
  const width = Math.max(...selected.map((p) => p.name.length));
  const colour = process.stdout.isTTY;
  const byFile = new Map(
    selected.map(
      (p) => [logFile(config, p.name), createLineFormatter(p.name, p.colour, { colour, width })] as const,
    ),
  );

  // -v: always print "==> file <==" headers, which say whose lines follow; -F: survive rotation.
  const tail = spawn('tail', ['-v', '-n', lines, ...(follow ? ['-F'] : []), ...byFile.keys()], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let current: ((line: string) => string) | undefined;
  readline.createInterface({ input: tail.stdout, crlfDelay: Infinity }).on('line', (line) => {
    const header = /^==> (.+) <==$/.exec(line);
    if (header) {
      current = byFile.get(header[1] ?? '');
      return;
    }
    if (line === '') return;
    console.log(current ? current(line) : line);
  });
  const stop = (): void => {
    tail.kill('SIGTERM');
  };
  // `make tenant-logs | head` closes the pipe early: that is the reader being done, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    stop();
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  tail.on('exit', (code) => process.exit(code ?? 0));
}

main();
