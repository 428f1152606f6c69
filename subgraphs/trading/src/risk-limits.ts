/**
 * An account's risk limits: the values in effect (a row, or the defaults of an account that never set
 * any) and how an update merges into them. The checks that apply them are risk.rules.ts.
 */
import { badInput } from '../../../lib/errors.js';
import { Dec, dec, str } from './decimal.js';
import type { RiskLimitsRow } from './db/tenant-schema.js';
import type { RiskLimitsValues } from './trading.repository.js';

/** Per-account limits in effect; null is "no limit". */
export interface EffectiveLimits {
  maxOrderQuantity: Dec | null;
  minOrderQuantity: Dec | null;
  maxOrderNotional: Dec | null;
  maxPositionQuantity: Dec | null;
  maxGrossExposure: Dec | null;
  priceCollarPct: Dec | null;
  allowShortSelling: boolean;
  maxOrdersPerMinute: number | null;
  dailyLossLimit: Dec | null;
  updatedAt: Date | null;
}

/** Limits of an account that never set any. */
export const DEFAULT_LIMITS: EffectiveLimits = Object.freeze({
  maxOrderQuantity: new Dec(1_000_000),
  minOrderQuantity: null,
  maxOrderNotional: new Dec(1_000_000),
  maxPositionQuantity: null,
  maxGrossExposure: null,
  priceCollarPct: new Dec('0.2'),
  allowShortSelling: false,
  maxOrdersPerMinute: 600,
  dailyLossLimit: null,
  updatedAt: null,
});

/** Risk limits from their row (or the defaults when the account has none). */
export function limitsFromRow(
  row: Omit<RiskLimitsRow, 'accountId' | 'updatedBy'> | undefined,
): EffectiveLimits {
  if (!row) return DEFAULT_LIMITS;
  return {
    maxOrderQuantity: dec(row.maxOrderQuantity),
    minOrderQuantity: dec(row.minOrderQuantity),
    maxOrderNotional: dec(row.maxOrderNotional),
    maxPositionQuantity: dec(row.maxPositionQuantity),
    maxGrossExposure: dec(row.maxGrossExposure),
    priceCollarPct: dec(row.priceCollarPct),
    allowShortSelling: row.allowShortSelling,
    maxOrdersPerMinute: row.maxOrdersPerMinute,
    dailyLossLimit: dec(row.dailyLossLimit),
    updatedAt: row.updatedAt,
  };
}

/** RiskLimitsInput: an omitted field keeps its value, null removes the limit. */
export interface RiskLimitsInput {
  maxOrderQuantity?: string | null | undefined;
  minOrderQuantity?: string | null | undefined;
  maxOrderNotional?: string | null | undefined;
  maxPositionQuantity?: string | null | undefined;
  maxGrossExposure?: string | null | undefined;
  priceCollarPercent?: string | null | undefined;
  allowShortSelling?: boolean | null | undefined;
  maxOrdersPerMinute?: number | null | undefined;
  dailyLossLimit?: string | null | undefined;
}

/** New limit values from the current ones and an input (omitted: kept; null: removed). */
export function mergeLimits(current: EffectiveLimits, input: RiskLimitsInput): RiskLimitsValues {
  const pick = (key: keyof RiskLimitsInput, value: Dec | null): string | null => {
    const given = input[key];
    if (given === undefined) return value === null ? null : str(value);
    if (given === null) return null;
    const d = new Dec(given as string);
    if (!d.isFinite() || d.isNegative()) throw badInput(`${key} must not be negative`, { field: key });
    if (d.gt('1e15')) throw badInput(`${key} is too large`, { field: key });
    return str(d);
  };
  const collar = pick('priceCollarPercent', current.priceCollarPct);
  if (collar !== null && (new Dec(collar).lte(0) || new Dec(collar).gt(10))) {
    throw badInput('priceCollarPercent must be in (0, 10] (a fraction: 0.1 is 10 %)', {
      field: 'priceCollarPercent',
    });
  }
  const rate = input.maxOrdersPerMinute === undefined ? current.maxOrdersPerMinute : input.maxOrdersPerMinute;
  if (rate !== null && (!Number.isInteger(rate) || rate < 1 || rate > 1_000_000)) {
    throw badInput('maxOrdersPerMinute must be 1..1000000', { field: 'maxOrdersPerMinute' });
  }
  return {
    maxOrderQuantity: pick('maxOrderQuantity', current.maxOrderQuantity),
    minOrderQuantity: pick('minOrderQuantity', current.minOrderQuantity),
    maxOrderNotional: pick('maxOrderNotional', current.maxOrderNotional),
    maxPositionQuantity: pick('maxPositionQuantity', current.maxPositionQuantity),
    maxGrossExposure: pick('maxGrossExposure', current.maxGrossExposure),
    priceCollarPct: collar,
    allowShortSelling: input.allowShortSelling ?? current.allowShortSelling,
    maxOrdersPerMinute: rate,
    dailyLossLimit: pick('dailyLossLimit', current.dailyLossLimit),
  };
}
