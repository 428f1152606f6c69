/**
 * Where a process's CPU went, from a V8 `.cpuprofile` (bench/cpu-profile.preload.ts, `--cpu-prof`):
 * self time grouped by package (node_modules/<name>), Node's own modules, the platform's source
 * files, and V8's pseudo-frames (GC, program, idle), as shares of the busy (non-idle) time; then the
 * heaviest functions, and the callers of the ones named with `--callers=<name>,...`. Frames of dist/
 * bundles are mapped to their sources through the bundles' source maps.
 * Run: `npx tsx bench/cpu-profile-summary.ts <file.cpuprofile> [--top=25] [--callers=writev] [--last=<s>] [--first=<s>] [--own]`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

const sourceMaps = new Map<string, SourceMap | undefined>();

/**
 * A frame of a dist/ bundle (scripts/build.ts writes linked source maps) as the source it came from:
 * its url becomes the source file's, so self time is grouped by source file, not by bundle.
 */
function unbundled(frame: ProfileNode['callFrame']): ProfileNode['callFrame'] {
  if (!/\/dist\/[\w.-]+\.c?js$/.test(frame.url)) return frame;
  const file = frame.url.startsWith('file:') ? fileURLToPath(frame.url) : frame.url;
  if (!sourceMaps.has(file)) {
    const map = `${file}.map`;
    sourceMaps.set(
      file,
      existsSync(map) ? new SourceMap(JSON.parse(readFileSync(map, 'utf8')) as SourceMapPayload) : undefined,
    );
  }
  const entry = sourceMaps.get(file)?.findEntry(frame.lineNumber, frame.columnNumber) as
    { originalSource?: string; originalLine?: number } | undefined;
  if (!entry?.originalSource) return frame;
  return { ...frame, url: entry.originalSource, lineNumber: entry.originalLine ?? frame.lineNumber };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The group a frame's self time counts for. */
function groupOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : `native ${functionName}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] ?? ''}`;
  // Bundles (dist/*.cjs) keep their sources' paths only in the source map: name the bundle.
  const own = /(gateway\/src|lib|subgraphs\/[\w-]+\/src|dist)\/[\w./-]+/.exec(url);
  return own ? own[0] : url;
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: cpu-profile-summary.ts <file.cpuprofile> [--top=N] [--callers=a,b]');
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
  const callersOf = (process.argv.find((a) => a.startsWith('--callers='))?.slice(10) ?? '')
    .split(',')
    .filter(Boolean);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  for (const n of profile.nodes) n.callFrame = unbundled(n.callFrame);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Stopping the profiler (serializing the profile) is sampled too: not the process's work.
  const profilerOwn = (id: number): boolean => {
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      if (byId.get(p)?.callFrame.url.includes('cpu-profile.preload')) return true;
    }
    return false;
  };
  // `--last=<s>`: only the last seconds of the profile (a whole-life `--cpu-prof` profile begins with start-up).
  const last = Number(process.argv.find((a) => a.startsWith('--last='))?.slice(7) ?? Infinity);
  // `--first=<s>`: only the first seconds (a phase's opening, e.g. the noisy bench's first second).
  const first = Number(process.argv.find((a) => a.startsWith('--first='))?.slice(8) ?? Infinity);
  const duration = profile.timeDeltas.reduce((a, b) => a + b, 0);
  let at = 0;
  const self = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    at += profile.timeDeltas[i] ?? 0;
    if (duration - at > last * 1e6 || at > first * 1e6) continue;
    if (profilerOwn(id)) continue;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  let idle = 0;
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  const callers = new Map<string, number>();
  // `--own`: busy time (children included) by the nearest function of the platform's own code on
  // the stack, so a library's work is charged to the call of ours that asked for it.
  const byOwn = new Map<string, number>();
  const ownOf = (id: number): string => {
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      const f = byId.get(p)?.callFrame;
      if (f && !f.url.includes('node_modules') && /(gateway\/src|lib|subgraphs\/[\w-]+\/src)\//.test(f.url)) {
        return `${f.functionName || '(anonymous)'} ${groupOf(f)}:${f.lineNumber + 1}`;
      }
    }
    // None: charged to the outermost package on the stack (who started the work).
    let outer = '';
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      const f = byId.get(p)?.callFrame;
      if (f?.url.includes('node_modules')) outer = groupOf(f);
    }
    return `(no own frame${outer ? `, under ${outer}` : ''})`;
  };
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    if (node.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const group = groupOf(node.callFrame);
    groups.set(group, (groups.get(group) ?? 0) + us);
    const own = ownOf(id);
    byOwn.set(own, (byOwn.get(own) ?? 0) + us);
    const fn = `${node.callFrame.functionName || '(anonymous)'} ${group}:${node.callFrame.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
    if (callersOf.includes(node.callFrame.functionName)) {
      // The nearest caller outside Node's stream and net internals says who wrote.
      let p = parent.get(id);
      const chain: string[] = [];
      while (p !== undefined && chain.length < 12) {
        const f = byId.get(p)?.callFrame;
        if (!f) break;
        chain.push(`${f.functionName || '(anonymous)'} ${groupOf(f)}`);
        if (f.url && !f.url.startsWith('node:')) break;
        p = parent.get(p);
      }
      const key = `${node.callFrame.functionName} <- ${chain.slice(-3).join(' <- ')}`;
      callers.set(key, (callers.get(key) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  console.log(
    `${file}: ${(total / 1e6).toFixed(1)} s sampled, idle ${((100 * idle) / total).toFixed(1)}%; shares of the busy ${(busy / 1e6).toFixed(1)} s:`,
  );
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  for (const [g, us] of sorted(groups).slice(0, top)) console.log(`  ${pct(us)}  ${g}`);
  console.log('heaviest functions (self):');
  for (const [f, us] of sorted(functions).slice(0, top)) console.log(`  ${pct(us)}  ${f}`);
  if (process.argv.includes('--own')) {
    console.log('by the nearest own function on the stack (children included):');
    for (const [f, us] of sorted(byOwn).slice(0, top)) console.log(`  ${pct(us)}  ${f}`);
  }
  if (callersOf.length > 0) {
    console.log(`callers of ${callersOf.join(', ')}:`);
    for (const [c, us] of sorted(callers).slice(0, top)) console.log(`  ${pct(us)}  ${c}`);
  }
}

main();
