/** Timestamps as the contract writes them: UTC, `YYYY-MM-DDTHH:MM:SS[.fff]`, no zone suffix. */

export function formatTimestamp(date: Date): string {
  const iso = date.toISOString(); // always UTC, always with .mmmZ
  return iso.endsWith(".000Z") ? iso.slice(0, 19) : iso.slice(0, 23);
}

const SEED_FORMAT = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]00:?00)?$/;

/**
 * Reads the timestamps found in CSV files: ISO 8601 (`2024-03-10T12:15:09`, optional fraction
 * and UTC suffix) and the seed's `2024-03-10 12:15:09`. Zone-less values are taken as UTC.
 * Returns undefined for anything else, including impossible dates like February 30.
 */
export function parseTimestamp(text: string): Date | undefined {
  const m = SEED_FORMAT.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms));
  const roundTrips = date.getUTCFullYear() === Number(y) && date.getUTCMonth() === Number(mo) - 1 && date.getUTCDate() === Number(d)
    && date.getUTCHours() === Number(h) && date.getUTCMinutes() === Number(mi) && date.getUTCSeconds() === Number(s);
  return roundTrips ? date : undefined;
}
