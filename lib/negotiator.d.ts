/**
 * The part of `negotiator` (1.x, untyped) that lib/negotiator-memo.ts extends: content negotiation
 * from a request's headers.
 */
declare module 'negotiator' {
  interface NegotiatorRequest {
    headers: Record<string, string | string[] | undefined>;
  }

  class Negotiator {
    constructor(request: NegotiatorRequest);
    request: NegotiatorRequest;
    /** The most preferred of `available` (or of the header's types), undefined when none is acceptable. */
    mediaType(available?: readonly string[]): string | undefined;
    /** `available` (or the header's types) in order of preference, the unacceptable ones left out. */
    mediaTypes(available?: readonly string[]): string[];
  }

  export = Negotiator;
}
