/**
 * `negotiator` with its media-type answers remembered per Accept header, for @apollo/server's imports
 * in the `dist/` bundles (scripts/build.ts substitutes it there; tests and `tsx` keep the package).
 * Apollo Server negotiates on every request, even one without an Accept header (whether the client
 * takes the legacy incremental format), parsing the header and the offered types each time, though
 * the answer depends on nothing else: a few µs of every request in the gateway and in each subgraph.
 */
import Negotiator from 'negotiator';

/** Accept headers remembered (clients choose them: bounded, forgotten all at once when full). */
const MAX_ACCEPT_HEADERS = 64;

/** Preferred types by Accept header (undefined: no header), then by the offered types. */
const preferred = new Map<string | undefined, Map<string, readonly string[]>>();

/** {@link Negotiator} whose `mediaType` and `mediaTypes` answer from memory when they can. */
export class MemoNegotiator extends Negotiator {
  override mediaType(available?: readonly string[]): string | undefined {
    const types = this.remembered(available);
    return types ? types[0] : super.mediaType(available);
  }

  override mediaTypes(available?: readonly string[]): string[] {
    // A copy: the caller owns what it gets, as with the package.
    const types = this.remembered(available);
    return types ? [...types] : super.mediaTypes(available);
  }

  /** The package's answer for a plain Accept header and offer, remembered; undefined for others. */
  private remembered(available: readonly string[] | undefined): readonly string[] | undefined {
    const accept = this.request.headers['accept'];
    if (typeof accept === 'object' || !available) return undefined;
    for (const t of available) if (typeof t !== 'string' || t.includes('\n')) return undefined;
    let byOffer = preferred.get(accept);
    if (!byOffer) {
      if (preferred.size >= MAX_ACCEPT_HEADERS) preferred.clear();
      preferred.set(accept, (byOffer = new Map<string, readonly string[]>()));
    }
    const offer = available.join('\n');
    let types = byOffer.get(offer);
    if (!types) {
      types = super.mediaTypes(available);
      byOffer.set(offer, types);
    }
    return types;
  }
}
