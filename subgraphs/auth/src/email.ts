/** Longest address SMTP allows (RFC 5321 path limit). */
export const EMAIL_MAX_LENGTH = 254;

// Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is proven by mail, not regex.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/**
 * The canonical form of an email address: trimmed, NFKC-normalized (so full-width or compatibility
 * characters collapse to one spelling) and lower-cased. Stored and compared in this form.
 */
export function normalizeEmail(raw: string): string {
  return raw.trim().normalize('NFKC').toLowerCase();
}

/** True when a normalized address is acceptable. */
export function isValidEmail(email: string): boolean {
  return email.length >= 3 && email.length <= EMAIL_MAX_LENGTH && EMAIL.test(email);
}
