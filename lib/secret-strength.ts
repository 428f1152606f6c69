/**
 * Start-up checks of SERVICE_TOKEN: a value copied from the documentation (env.example, the k8s
 * example) or one a person typed is refused before it can guard anything. The entropy figure is an
 * estimate from the token's shape (alphabet, repetition, runs), not a proof: it catches the weak
 * values people write by hand, while a random token of 32 bytes or more (`make setup` writes 64 hex
 * characters, 256 bits) always passes.
 */

/** Fewest estimated bits a SERVICE_TOKEN must carry. */
export const MIN_SECRET_BITS = 128;

/** Values shown in this repository's docs and examples; never valid secrets. */
export const DOCUMENTED_PLACEHOLDERS: readonly string[] = [
  'replace-me-with-make-setup',
  'replace-with-64-random-hex-characters-for-example-openssl-rand-hex-32',
];

// Words that mark a value as a placeholder a person wrote. Written as a word of its own (at an end or
// next to a separator, in one letter case) the word alone refuses the value; run into other characters
// it adds nothing to the entropy estimate. Random base64 can hold `ToKeN` by chance (about
// once in a million tokens), and must not be refused for it.
const PLACEHOLDER_WORDS = ['replace', 'change', 'example', 'placeholder', 'secret', 'password', 'token'];
const PLACEHOLDER_AS_WORD = new RegExp(
  `(?<![A-Za-z0-9])(?:${PLACEHOLDER_WORDS.join('|')})|(?:${PLACEHOLDER_WORDS.join('|')})(?![A-Za-z0-9])`,
  'gi',
);
const PLACEHOLDER_ANYWHERE = new RegExp(PLACEHOLDER_WORDS.join('|'), 'gi');

// Alphabets from the smallest up; a token is measured against the first one holding all its characters.
const ALPHABETS: readonly (readonly [RegExp, number])[] = [
  [/^[0-9]+$/, 10],
  [/^[0-9a-f]+$/, 16],
  [/^[0-9A-F]+$/, 16],
  [/^[a-z]+$/, 26],
  [/^[a-z0-9]+$/, 36],
  [/^[A-Za-z0-9]+$/, 62],
  [/^[A-Za-z0-9+/=_-]+$/, 64],
];

/**
 * Estimated entropy of a secret, in bits: the bits per character of its alphabet times its effective
 * length, which discounts a repeated unit (`abcabc...` counts as `abc`) and characters that continue a
 * run (`aaaaa`, `12345`, `edcba`: each after the fourth is predictable). Zero when one character dominates
 * (Shannon entropy under 3 bits per character: too few distinct characters).
 */
export function estimateSecretBits(value: string): number {
  const secret = value.replace(PLACEHOLDER_ANYWHERE, '');
  if (secret.length === 0) return 0;
  if (shannonBitsPerChar(secret) < 3) return 0;
  const unit = secret.slice(0, period(secret));
  let predictable = 0;
  const delta = (i: number): number => unit.charCodeAt(i) - unit.charCodeAt(i - 1);
  for (let i = 4; i < unit.length; i++) {
    const d = delta(i);
    if (Math.abs(d) <= 1 && d === delta(i - 1) && d === delta(i - 2) && d === delta(i - 3)) predictable++;
  }
  const size = ALPHABETS.find(([re]) => re.test(unit))?.[1] ?? 95;
  return (unit.length - predictable) * Math.log2(size);
}

/**
 * Why `token` may not be used as SERVICE_TOKEN, or undefined when it may. The value itself is never
 * part of the answer (it is a secret, and the answer ends up in logs).
 */
export function serviceTokenProblem(token: string): string | undefined {
  const lower = token.toLowerCase();
  if (DOCUMENTED_PLACEHOLDERS.includes(lower) || hasPlaceholderWord(token)) {
    return 'is a documented placeholder; run `make setup` or use `openssl rand -hex 32`';
  }
  const bits = Math.floor(estimateSecretBits(token));
  if (bits < MIN_SECRET_BITS) {
    return `has low entropy (about ${bits} bits estimated, at least ${MIN_SECRET_BITS} required: too few distinct characters, or repeated patterns); use \`openssl rand -hex 32\``;
  }
  return undefined;
}

/** Whether a placeholder word stands at an end or next to a separator, in one letter case. */
function hasPlaceholderWord(token: string): boolean {
  for (const [word] of token.matchAll(PLACEHOLDER_AS_WORD)) {
    if (word === word.toLowerCase() || word === word.toUpperCase()) return true;
  }
  return false;
}

/** Shortest p such that the string repeats its first p characters (the last repeat may be partial). */
function period(s: string): number {
  for (let p = 1; p <= s.length / 2; p++) {
    let repeats = true;
    for (let i = p; i < s.length && repeats; i++) repeats = s.charCodeAt(i) === s.charCodeAt(i - p);
    if (repeats) return p;
  }
  return s.length;
}

function shannonBitsPerChar(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}
