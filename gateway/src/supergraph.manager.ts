/**
 * Loads the static supergraph (schema/supergraph.graphql, composed by schema/compose.ts) and, when
 * watching (development), reloads it when the file changes. A file that does not build keeps the
 * previous schema and logs why. The gateway's lifecycle is an explicit state machine here.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SupergraphManager } from '@apollo/gateway';
import { Kind, parse, type ConstArgumentNode } from 'graphql';
import type { Logger } from '../../lib/logger.js';

type SupergraphSdlHookOptions = Parameters<SupergraphManager['initialize']>[0];

/** Lifecycle of a gateway instance. */
export type GatewayState = 'starting' | 'serving' | 'reloading' | 'stopped';

const TRANSITIONS: Record<GatewayState, readonly GatewayState[]> = {
  starting: ['serving', 'stopped'],
  serving: ['reloading', 'stopped'],
  reloading: ['serving', 'stopped'],
  stopped: [],
};

/** Holds the state and refuses transitions that make no sense (e.g. reloading a stopped gateway). */
export class GatewayLifecycle {
  private current: GatewayState = 'starting';

  constructor(private readonly logger: Logger) {}

  get state(): GatewayState {
    return this.current;
  }

  /** Moves to `next`; returns false (and stays) when the transition is not allowed. */
  to(next: GatewayState): boolean {
    if (this.current === next) return true;
    if (!TRANSITIONS[this.current].includes(next)) return false;
    this.logger.debug({ from: this.current, to: next }, 'gateway state');
    this.current = next;
    return true;
  }
}

/** A subgraph named in a supergraph, with the URL composed into it. */
export interface SubgraphEndpoint {
  name: string;
  url: string;
}

/** The last SDL {@link subgraphsOf} parsed and what it found: asked at every /ready, one parse per supergraph. */
let lastSubgraphs: { sdl: string; endpoints: readonly SubgraphEndpoint[] } | undefined;

/** The subgraphs of a supergraph SDL (the `join__Graph` enum's `@join__graph(name:, url:)`). */
export function subgraphsOf(supergraphSdl: string): readonly SubgraphEndpoint[] {
  if (lastSubgraphs?.sdl !== supergraphSdl) {
    lastSubgraphs = { sdl: supergraphSdl, endpoints: Object.freeze(parseSubgraphs(supergraphSdl)) };
  }
  return lastSubgraphs.endpoints;
}

function parseSubgraphs(supergraphSdl: string): SubgraphEndpoint[] {
  const out: SubgraphEndpoint[] = [];
  const str = (args: readonly ConstArgumentNode[] | undefined, name: string): string | undefined => {
    const v = args?.find((a) => a.name.value === name)?.value;
    return v?.kind === Kind.STRING ? v.value : undefined;
  };
  for (const def of parse(supergraphSdl, { noLocation: true }).definitions) {
    if (def.kind !== Kind.ENUM_TYPE_DEFINITION || def.name.value !== 'join__Graph') continue;
    for (const value of def.values ?? []) {
      const d = value.directives?.find((x) => x.name.value === 'join__graph');
      const name = str(d?.arguments, 'name');
      const url = str(d?.arguments, 'url');
      if (name !== undefined && url !== undefined) out.push({ name, url });
    }
  }
  return out;
}

export interface SupergraphFileManagerOptions {
  path: string;
  watch: boolean;
  lifecycle: GatewayLifecycle;
  logger: Logger;
  /** Quiet period after the last file event before reloading (editors write in several steps). */
  debounceMs?: number;
  /** Called after every reload attempt. */
  onReload?: (result: 'ok' | 'failed') => void;
}

/** The `supergraphSdl` manager given to ApolloGateway. */
export class SupergraphFileManager implements SupergraphManager {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private hash = '';
  private sdl = '';
  private reloading: Promise<void> | undefined;
  private again = false;

  constructor(private readonly opts: SupergraphFileManagerOptions) {}

  /** The SDL currently served. */
  get supergraphSdl(): string {
    return this.sdl;
  }

  async initialize({
    update,
  }: SupergraphSdlHookOptions): Promise<{ supergraphSdl: string; cleanup: () => Promise<void> }> {
    const sdl = await readFile(this.opts.path, 'utf8');
    this.remember(sdl);
    if (this.opts.watch) this.startWatching(update);
    return {
      supergraphSdl: sdl,
      cleanup: () => {
        this.watcher?.close();
        this.watcher = undefined;
        clearTimeout(this.timer);
        return this.reloading ?? Promise.resolve();
      },
    };
  }

  private remember(sdl: string): void {
    this.sdl = sdl;
    this.hash = createHash('sha256').update(sdl).digest('hex');
  }

  private startWatching(update: SupergraphSdlHookOptions['update']): void {
    // The directory is watched, not the file: tools that write a new file and rename it over the old
    // one replace the inode, and a watch on the old inode would go quiet.
    const dir = path.dirname(this.opts.path);
    const base = path.basename(this.opts.path);
    this.watcher = watch(dir, (_event, filename) => {
      if (filename !== null && filename !== base) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.schedule(update), this.opts.debounceMs ?? 150);
    });
    this.watcher.on('error', (err) => this.opts.logger.error({ err }, 'supergraph watcher failed'));
    this.opts.logger.info({ path: this.opts.path }, 'watching the supergraph for changes');
  }

  private schedule(update: SupergraphSdlHookOptions['update']): void {
    if (this.reloading) {
      this.again = true;
      return;
    }
    this.reloading = this.reload(update).finally(() => {
      this.reloading = undefined;
      if (this.again) {
        this.again = false;
        this.schedule(update);
      }
    });
  }

  private async reload(update: SupergraphSdlHookOptions['update']): Promise<void> {
    let sdl: string;
    try {
      sdl = await readFile(this.opts.path, 'utf8');
    } catch (err) {
      this.opts.logger.error(
        { err, path: this.opts.path },
        'supergraph unreadable; keeping the current schema',
      );
      this.opts.onReload?.('failed');
      return;
    }
    if (createHash('sha256').update(sdl).digest('hex') === this.hash) return;
    if (!this.opts.lifecycle.to('reloading')) return;
    try {
      update(sdl);
      this.remember(sdl);
      this.opts.logger.info({ path: this.opts.path }, 'supergraph reloaded');
      this.opts.onReload?.('ok');
    } catch (err) {
      this.opts.logger.error(
        { err, path: this.opts.path },
        'supergraph reload failed; keeping the current schema',
      );
      this.opts.onReload?.('failed');
    } finally {
      this.opts.lifecycle.to('serving');
    }
  }
}
