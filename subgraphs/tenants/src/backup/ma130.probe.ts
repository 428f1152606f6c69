/**
 * MA130 reachability: the seed's "test connection from tenant service", as a probe that does what a
 * backup needs (connect with the key and the pinned host key, write, read back and delete a file
 * under the backup path). `make ma130-check` runs it once; the tenants worker runs it periodically
 * for a non-fatal /ready check and the `tenants_ma130_reachable` gauge.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Gauge, type Registry } from '../../../../lib/metrics.js';
import { Ma130Connection, type Ma130Settings } from './ma130.client.js';

export type Ma130ProbeResult = { ok: true; path: string } | { ok: false; step: string; reason: string };

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** One probe; never throws (a failure names the step and the reason). */
export async function probeMa130(settings: Ma130Settings): Promise<Ma130ProbeResult> {
  let conn: Ma130Connection;
  try {
    conn = await Ma130Connection.connect(settings);
  } catch (err) {
    return { ok: false, step: 'connect', reason: message(err) };
  }
  // A name of its own per probe, so concurrent probes (replicas, `make ma130-check`) never collide,
  // and a leftover from a probe cut short is recognisable.
  const file = `${settings.basePath}/.ma130-probe-${hostname()}-${process.pid}-${randomBytes(6).toString('hex')}`;
  const payload = Buffer.from(`tradesage ma130 probe ${new Date().toISOString()}\n`);
  let step = 'create backup path';
  try {
    await conn.mkdirp(settings.basePath);
    step = 'write';
    const upload = await conn.createUpload(file);
    await new Promise<void>((resolve, reject) => {
      upload.on('error', reject);
      upload.end(payload, () => resolve());
    });
    step = 'read back';
    const back = await conn.readSmall(file, payload.length * 2);
    if (!back.equals(payload)) {
      return { ok: false, step, reason: `probe file ${file} read back differs from what was written` };
    }
    step = 'delete';
    await conn.unlink(file);
    return { ok: true, path: file };
  } catch (err) {
    if (step !== 'delete') await conn.unlink(file).catch(() => undefined);
    return { ok: false, step, reason: `${message(err)} (${file})` };
  } finally {
    conn.close();
  }
}

/**
 * `tenants_ma130_reachable`: registered with the worker's metrics (0 while backups are not
 * configured, so the series exists either way; the alert also checks `tenant_backups_configured`).
 */
export function createMa130ReachableGauge(registry: Registry): Gauge {
  const gauge = new Gauge({
    name: 'tenants_ma130_reachable',
    help: '1 when the last MA130 probe (connect, write, read back, delete a file) succeeded, else 0',
    registers: [registry],
  });
  gauge.set(0);
  return gauge;
}

/** The last probe's outcome as /ready and the gauge report it. */
export interface Ma130Reachability {
  /** Answers at once from the last probe (false until the first one succeeded). */
  check(): Promise<boolean>;
  readonly last: Ma130ProbeResult | undefined;
  /** Runs a probe now (also what the timer does); concurrent calls share one probe. */
  probe(): Promise<Ma130ProbeResult>;
  stop(): void;
}

/**
 * Probes every `intervalMs` in the background (first probe at once) and keeps the result; failures
 * are logged once per change, not once per probe.
 */
export function startMa130Reachability(opts: {
  settings: Ma130Settings;
  intervalMs: number;
  gauge: Gauge;
  onChange: (result: Ma130ProbeResult) => void;
}): Ma130Reachability {
  let last: Ma130ProbeResult | undefined;
  let running: Promise<Ma130ProbeResult> | undefined;
  const { gauge } = opts;
  const probe = (): Promise<Ma130ProbeResult> => {
    running ??= probeMa130(opts.settings)
      .then((result) => {
        const changed = last === undefined || last.ok !== result.ok;
        last = result;
        gauge.set(result.ok ? 1 : 0);
        if (changed) opts.onChange(result);
        return result;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  void probe();
  const timer = setInterval(() => void probe(), opts.intervalMs);
  timer.unref();
  return {
    check: () => Promise.resolve(last?.ok === true),
    get last() {
      return last;
    },
    probe,
    stop: () => clearInterval(timer),
  };
}
