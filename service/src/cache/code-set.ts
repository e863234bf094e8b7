/**
 * An exact set of short codes, packed for a million and more: a code of up to 8 characters (every
 * code the API issues has 6; the bench's have 7) is a number below 65^8 < 2^53, held in an
 * open-addressing table of doubles (8 bytes a slot, at most half full, so 16 MB at 1M codes
 * where a Set<string> takes about 80 MB: bench/live-codes.ts measures both and a Bloom filter).
 * Longer codes (imports may bring up to 16) go in a plain Set beside it. Exact, so a random code
 * is never a false "maybe", and a code can be taken out again.
 */

// The code alphabet (redirect/model.ts CODE_SHAPE), each character a digit 1..64 in base 65, so
// "a" and "a0" differ and no code packs to 0, which marks an empty slot.
const DIGIT = new Int8Array(128).fill(-1);
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".split("").forEach((c, i) => { DIGIT[c.charCodeAt(0)] = i + 1; });
const MAX_PACKED_LENGTH = 8;
const EMPTY = 0;
// A removed code's slot: probing goes on past it, an insert may reuse it.
const REMOVED = -1;
const MIN_CAPACITY = 1 << 10;

/** The code as one number, or undefined when it is longer than 8 or has a character outside the alphabet. */
export function packCode(code: string): number | undefined {
  if (code.length === 0 || code.length > MAX_PACKED_LENGTH) return undefined;
  let value = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    const digit = c < 128 ? DIGIT[c]! : -1;
    if (digit < 0) return undefined;
    value = value * 65 + digit;
  }
  return value;
}

// Mixes the 48-bit value's two halves into a slot index (murmur3's finaliser on 32 bits).
function slotOf(value: number, mask: number): number {
  let h = (value >>> 0) ^ Math.imul(Math.floor(value / 0x1_0000_0000), 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}

export function createCodeSet(expected = 0) {
  let capacity = MIN_CAPACITY;
  while (capacity < expected * 2) capacity *= 2;
  let slots = new Float64Array(capacity);
  let used = 0; // filled or removed slots: what probing walks over
  let packedCount = 0;
  const long = new Set<string>();

  /** The slot holding value, or -1. */
  function find(value: number): number {
    const mask = slots.length - 1;
    for (let i = slotOf(value, mask); ; i = (i + 1) & mask) {
      const held = slots[i]!;
      if (held === value) return i;
      if (held === EMPTY) return -1;
    }
  }

  function rehash(size: number): void {
    const old = slots;
    slots = new Float64Array(size);
    const mask = size - 1;
    for (const value of old) {
      if (value <= 0) continue;
      let i = slotOf(value, mask);
      while (slots[i] !== EMPTY) i = (i + 1) & mask;
      slots[i] = value;
    }
    used = packedCount;
  }

  function insert(value: number): void {
    if (find(value) >= 0) return;
    // Kept at most half full (removed slots count), so a miss walks a couple of slots.
    if ((used + 1) * 2 > slots.length) rehash(packedCount * 4 > slots.length ? slots.length * 2 : slots.length);
    const mask = slots.length - 1;
    let i = slotOf(value, mask);
    while (slots[i]! > 0) i = (i + 1) & mask;
    if (slots[i] === EMPTY) used++;
    slots[i] = value;
    packedCount++;
  }

  return {
    has(code: string): boolean {
      const value = packCode(code);
      return value === undefined ? long.has(code) : find(value) >= 0;
    },
    add(code: string): void {
      const value = packCode(code);
      if (value === undefined) long.add(code);
      else insert(value);
    },
    /**
     * Codes separated by single spaces (a loaded page): packed straight from the text, so a page
     * of 10,000 leaves one string behind instead of 10,000 (only long codes become strings).
     */
    addJoined(text: string): void {
      let start = 0;
      while (start < text.length) {
        let end = text.indexOf(" ", start);
        if (end < 0) end = text.length;
        let value = end - start <= MAX_PACKED_LENGTH ? 0 : -1;
        for (let i = start; i < end && value >= 0; i++) {
          const c = text.charCodeAt(i);
          const digit = c < 128 ? DIGIT[c]! : -1;
          value = digit < 0 ? -1 : value * 65 + digit;
        }
        if (value > 0) insert(value);
        else if (end > start) long.add(text.slice(start, end));
        start = end + 1;
      }
    },
    delete(code: string): void {
      const value = packCode(code);
      if (value === undefined) {
        long.delete(code);
        return;
      }
      const i = find(value);
      if (i < 0) return;
      slots[i] = REMOVED;
      packedCount--;
    },
    get size(): number {
      return packedCount + long.size;
    },
    /** Bytes held by the table (the long codes' Set not counted). */
    get bytes(): number {
      return slots.byteLength;
    },
  };
}

export type CodeSet = ReturnType<typeof createCodeSet>;
