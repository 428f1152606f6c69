// Every error the desk shows is a sentence: one per code of the API contract (docs/api.md), never
// raw JSON. RATE_LIMITED and QUOTA_EXCEEDED say when to retry from `extensions.retryAfter`.
import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';

/** Error codes of the contract, plus the gateway's limit codes. */
const SENTENCES: Record<string, string> = {
  UNAUTHENTICATED: 'Your session has ended. Please sign in again.',
  FORBIDDEN: 'You are not allowed to do this in this organization.',
  BAD_USER_INPUT: 'Some of what you entered is not valid.',
  NOT_FOUND: 'That no longer exists.',
  CONFLICT: 'Someone changed this at the same time. Reload it and try again.',
  RATE_LIMITED: 'Too many requests.',
  RISK_REJECTED: 'The order was refused by a risk check.',
  QUOTA_EXCEEDED: 'A limit of your organization was reached.',
  QUERY_TOO_COMPLEX: 'The request was too large for the server.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on our side. Please try again.',
};

/** The code of the first GraphQL error, if any. */
export function errorCode(err: unknown): string | undefined {
  if (CombinedGraphQLErrors.is(err)) {
    const code = err.errors[0]?.extensions?.['code'];
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** True for a failure to reach the server (safe to retry an idempotent request). */
export function isNetworkError(err: unknown): boolean {
  if (CombinedGraphQLErrors.is(err)) return false;
  if (ServerError.is(err)) return err.statusCode >= 502;
  return err instanceof TypeError || (err instanceof Error && /fetch|network/i.test(err.message));
}

function retryHint(seconds: unknown): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return ' Please wait a moment and retry.';
  return seconds < 90
    ? ` Try again in ${Math.ceil(seconds)} s.`
    : ` Try again in ${Math.ceil(seconds / 60)} min.`;
}

/** One sentence describing `err` for the user. */
export function describeError(err: unknown): string {
  if (CombinedGraphQLErrors.is(err)) {
    const first = err.errors[0];
    const code = first?.extensions?.['code'];
    const base = (typeof code === 'string' && SENTENCES[code]) || SENTENCES['INTERNAL_SERVER_ERROR'] || '';
    if (code === 'RATE_LIMITED' || code === 'QUOTA_EXCEEDED') {
      return base + retryHint(first?.extensions?.['retryAfter']);
    }
    // Input and conflict messages are written for people by the services; the others are generic.
    if ((code === 'BAD_USER_INPUT' || code === 'FORBIDDEN' || code === 'NOT_FOUND') && first?.message) {
      return `${base} ${first.message.endsWith('.') ? first.message : `${first.message}.`}`;
    }
    return base;
  }
  if (ServerError.is(err) && err.statusCode === 429)
    return (SENTENCES['RATE_LIMITED'] ?? '') + retryHint(undefined);
  if (isNetworkError(err)) return 'The server cannot be reached. Check your connection and retry.';
  return SENTENCES['INTERNAL_SERVER_ERROR'] ?? '';
}

/** Why an order was refused, in words (rejectReason codes of the trading service). */
const REJECT_REASONS: Record<string, string> = {
  INSUFFICIENT_BUYING_POWER: 'Not enough buying power for this order.',
  MAX_NOTIONAL_EXCEEDED: 'The order is worth more than the account allows per order.',
  QUANTITY_ABOVE_MAXIMUM: 'The quantity is above the maximum per order.',
  QUANTITY_BELOW_MINIMUM: 'The quantity is below the minimum per order.',
  POSITION_LIMIT_EXCEEDED: 'The resulting position would exceed the position limit.',
  EXPOSURE_LIMIT_EXCEEDED: 'The account exposure would exceed its limit.',
  DAILY_LOSS_LIMIT: 'The daily loss limit was reached; trading is restricted today.',
  ORDER_RATE_EXCEEDED: 'Too many orders in a short time; wait a moment.',
  PRICE_OUTSIDE_COLLAR: 'The price is too far from the market.',
  INVALID_TICK_SIZE: 'The price is not a multiple of the tick size.',
  INVALID_LOT_SIZE: 'The quantity is not a multiple of the lot size.',
  INSTRUMENT_NOT_TRADABLE: 'This instrument cannot be traded now.',
  UNKNOWN_INSTRUMENT: 'Unknown instrument.',
  NO_MARKET_DATA: 'There is no price for this instrument yet.',
  SHORT_SELLING_NOT_ALLOWED: 'Short selling is not allowed on this account.',
  REDUCE_ONLY: 'The account may only reduce positions.',
  TRADING_HALTED: 'Trading is halted on this account.',
  FOK_NOT_FILLABLE: 'Fill-or-kill: the whole quantity could not be filled at once.',
  IOC_REMAINDER: 'Immediate-or-cancel: the unfilled rest was canceled.',
  CURRENCY_MISMATCH: 'The instrument currency differs from the account currency.',
  DAY_ORDER_EXPIRED: 'The day order expired at the end of the day.',
  CANCELED_BY_USER: 'Canceled by you.',
};

/** A sentence for a rejectReason code, with the service's own message when the code is new to us. */
export function describeRejectReason(reason: string | null | undefined, message?: string | null): string {
  if (!reason) return message ?? '';
  return REJECT_REASONS[reason] ?? message ?? reason.toLowerCase().replaceAll('_', ' ');
}
