/** New short codes: 6 characters of [A-Za-z0-9] from the system CSPRNG, every character equally likely. */

export const SHORT_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const SHORT_CODE_LENGTH = 6;

// 248 = 4 × 62: bytes at or above it are thrown away, so `byte % 62` has no bias.
const ACCEPT_BELOW = 256 - (256 % SHORT_CODE_ALPHABET.length);

// Fixed paths that are also valid codes would be shadowed by the route, so never issue them.
const RESERVED = new Set(["health", "events"]);

export function generateShortCode(): string {
  for (;;) {
    let code = "";
    while (code.length < SHORT_CODE_LENGTH) {
      // 16 bytes per draw: with 3 % rejected, one draw almost always fills the code.
      for (const byte of crypto.getRandomValues(new Uint8Array(16))) {
        if (byte >= ACCEPT_BELOW) continue;
        code += SHORT_CODE_ALPHABET[byte % SHORT_CODE_ALPHABET.length];
        if (code.length === SHORT_CODE_LENGTH) break;
      }
    }
    if (!RESERVED.has(code)) return code;
  }
}
