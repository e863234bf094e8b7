/**
 * UTF-8 decoding of a CSV stream that keeps bad bytes visible instead of losing them.
 *
 * A CSV upload may hold one row with Latin-1 or broken bytes among thousands of good rows; the
 * contract asks to skip that row and keep the rest. A fatal decoder would reject the whole chunk,
 * and the replacement decoder turns bad bytes into U+FFFD, which a genuine U+FFFD in the file
 * also produces. Instead each invalid byte becomes a lone surrogate U+DC80..U+DCFF (Python's
 * "surrogateescape"): valid UTF-8 never decodes to a lone surrogate, so a field that is not
 * `isWellFormed()` proves that its row had invalid bytes, and parsing goes on undisturbed
 * (the escapes are never a quote, comma or newline).
 */

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);

export interface Utf8StreamDecoder {
  /** Text of the bytes so far; an incomplete sequence at the end waits for the next chunk unless `final`. */
  decode(chunk: Uint8Array, final: boolean): string;
  /** True once any invalid byte was seen; until then no field can hold an escape. */
  readonly sawInvalid: boolean;
}

export function createUtf8StreamDecoder(): Utf8StreamDecoder {
  let carry = EMPTY;
  let atStart = true;
  let sawInvalid = false;
  return {
    get sawInvalid() { return sawInvalid; },
    decode(chunk, final) {
      const bytes = carry.length > 0 ? concat(carry, chunk) : chunk;
      const keep = final ? 0 : incompleteTail(bytes);
      carry = keep > 0 ? bytes.slice(bytes.length - keep) : EMPTY;
      const body = bytes.subarray(0, bytes.length - keep);
      let text: string;
      try {
        text = strict.decode(body);
      } catch {
        text = decodeEscaping(body);
        sawInvalid = true;
      }
      if (atStart && text.length > 0) {
        atStart = false;
        // Only the first character of the file is a byte order mark; later U+FEFF is data.
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      return text;
    },
  };
}

/** Decodes bytes known to hold invalid UTF-8, escaping each bad byte as U+DC00 + byte. */
export function decodeEscaping(bytes: Uint8Array): string {
  let out = "";
  let start = 0;
  let i = 0;
  while (i < bytes.length) {
    const n = validSequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += strict.decode(bytes.subarray(start, i)) + String.fromCharCode(0xdc00 + bytes[i]!);
    i += 1;
    start = i;
  }
  return out + strict.decode(bytes.subarray(start));
}

/** Length of the well-formed UTF-8 sequence at `i` (Unicode table 3-7), or 0 when there is none. */
function validSequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c === 0xe0) { n = 3; lo = 0xa0; }
  else if (c === 0xed) { n = 3; hi = 0x9f; } // no UTF-16 surrogates
  else if (c >= 0xe1 && c <= 0xef) n = 3;
  else if (c === 0xf0) { n = 4; lo = 0x90; }
  else if (c === 0xf4) { n = 4; hi = 0x8f; } // nothing above U+10FFFF
  else if (c >= 0xf1 && c <= 0xf3) n = 4;
  else return 0;
  if (i + n > b.length) return 0;
  const second = b[i + 1]!;
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < n; k++) {
    const next = b[i + k]!;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return n;
}

/** How many trailing bytes start a multi-byte sequence that the chunk cut short. */
function incompleteTail(b: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, b.length); back++) {
    const c = b[b.length - back]!;
    if (c < 0x80) return 0;
    if (c >= 0xc0) {
      const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      return need > back ? back : 0;
    }
  }
  return 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
