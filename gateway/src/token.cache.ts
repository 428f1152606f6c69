/**
 * The gateway's verified-token cache is lib's {@link CachingAccessTokenVerifier} (shared with the
 * subgraphs); these names are the ones the gateway's modules import.
 */
export {
  CachingAccessTokenVerifier as CachingTokenVerifier,
  MAX_ENTRY_MS,
  type HeaderVerifier,
} from '../../lib/token-cache.js';
