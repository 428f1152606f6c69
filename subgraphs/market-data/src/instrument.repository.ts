import { asc } from 'drizzle-orm';
import type { Db } from '../../../lib/db.js';
import { instruments } from './db/schema.js';

export type InstrumentRow = typeof instruments.$inferSelect;

/** Reads the instrument catalog (`market.instruments`). */
export class InstrumentRepository {
  constructor(private readonly db: Db) {}

  /** Every instrument, by symbol. */
  async list(): Promise<InstrumentRow[]> {
    return this.db.select().from(instruments).orderBy(asc(instruments.symbol));
  }
}
