/**
 * An operation allowlist from a persisted-operations manifest (Apollo's format, as
 * `@apollo/generate-persisted-query-manifest` writes it from a client's documents): its operations
 * are served by hash to every client, ahead of the APQ store, and with PERSISTED_OPERATIONS_ONLY
 * any other document is refused. Ids are checked against the sha256 of each body at load, so a
 * hash-only request can never run a body other than the one its hash names.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { KeyValueCacheSetOptions } from './apq.cache.js';

const manifestSchema = z.object({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().regex(/^[0-9a-f]{64}$/),
      body: z.string().min(1),
      name: z.string().optional(),
    }),
  ),
});

/** The operations of a manifest, by sha256 of their text. */
export class PersistedOperations {
  private constructor(private readonly byHash: ReadonlyMap<string, string>) {}

  /** Reads and checks a manifest; throws naming the file and the problem. */
  static load(file: string): PersistedOperations {
    let parsed;
    try {
      parsed = manifestSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    } catch (err) {
      throw new Error(`PERSISTED_OPERATIONS_PATH: ${file} is not a persisted-operations manifest`, {
        cause: err,
      });
    }
    const byHash = new Map<string, string>();
    for (const op of parsed.operations) {
      if (createHash('sha256').update(op.body).digest('hex') !== op.id) {
        throw new Error(
          `PERSISTED_OPERATIONS_PATH: ${file}: operation ${op.name ?? op.id} does not match its id`,
        );
      }
      byHash.set(op.id, op.body);
    }
    return new PersistedOperations(byHash);
  }

  /** The body of an operation by hash. */
  get(hash: string): string | undefined {
    return this.byHash.get(hash);
  }

  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  get size(): number {
    return this.byHash.size;
  }
}

/** Apollo's APQ cache interface (keys are `apq:<sha256>`). */
export interface QueryCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void>;
  delete(key: string): Promise<boolean>;
}

const APQ_PREFIX = 'apq:';

/** Serves the manifest's operations first; the store holds everything else (nothing, when `only`). */
export class ManifestFirstCache implements QueryCache {
  constructor(
    private readonly manifest: PersistedOperations,
    private readonly store: QueryCache,
    private readonly only: boolean,
  ) {}

  private hashOf(key: string): string {
    return key.startsWith(APQ_PREFIX) ? key.slice(APQ_PREFIX.length) : key;
  }

  async get(key: string): Promise<string | undefined> {
    const known = this.manifest.get(this.hashOf(key));
    if (known !== undefined || this.only) return known;
    return this.store.get(key);
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    if (this.only || this.manifest.has(this.hashOf(key))) return;
    await this.store.set(key, value, options);
  }

  delete(key: string): Promise<boolean> {
    return this.only ? Promise.resolve(false) : this.store.delete(key);
  }
}
