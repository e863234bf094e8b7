/** New short codes: 6 characters of [A-Za-z0-9] from the system CSPRNG, every character equally likely. */
import { RESERVED_SEGMENTS } from "../redirect/reserved-segments.ts";

export const SHORT_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const SHORT_CODE_LENGTH = 6;

// 248 = 4 × 62: bytes at or above it are thrown away, so `byte % 62` has no bias.
const ACCEPT_BELOW = 256 - (256 % SHORT_CODE_ALPHABET.length);

const cryptoBytes = (count: number) => crypto.getRandomValues(new Uint8Array(count));

/** `randomBytes` is the CSPRNG; tests pass their own to show what happens to a given draw. */
export function generateShortCode(randomBytes: (count: number) => Uint8Array = cryptoBytes): string {
  for (;;) {
    let code = "";
    while (code.length < SHORT_CODE_LENGTH) {
      // 16 bytes per draw: with 3 % rejected, one draw almost always fills the code.
      for (const byte of randomBytes(16)) {
        if (byte >= ACCEPT_BELOW) continue;
        code += SHORT_CODE_ALPHABET[byte % SHORT_CODE_ALPHABET.length];
        if (code.length === SHORT_CODE_LENGTH) break;
      }
    }
    // A fixed path's first segment would be shadowed by its route: drawn again.
    if (!RESERVED_SEGMENTS.has(code)) return code;
  }
}
