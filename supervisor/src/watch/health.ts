/**
 * @module What the supervisor reads from an instance's /health: its click spool backlog
 * (`click_spool`: clicks on its disk not yet in PostgreSQL) and its release (`version`). One
 * request for both, every few seconds, for the console, /status and `linkfort-supervisor status`.
 * Whatever fails or looks wrong is "unknown" (null), never an error: an instance down, an older
 * release without a field, a foreign answer on the port, a hang.
 */
import type { SpoolSnapshot } from "../status/snapshot.ts";

export interface InstanceHealth {
  spool: SpoolSnapshot | null;
  /** The instance's release as it reports it, cleaned by `cleanVersion`; null when not known. */
  version: string | null;
}

export const UNKNOWN_HEALTH: InstanceHealth = Object.freeze({ spool: null, version: null });

// /health answers a few hundred bytes; anything longer is not our instance.
const BODY_LIMIT = 8_192;
/** Release names are short ("1.4.2", "2026.12.05-3f2a1c0"); anything longer is not one and is cut. */
export const VERSION_MAX = 64;
// C0, DEL and C1 controls (a terminal escape, a newline) and the invisible format characters that
// reorder or hide text (bidi overrides, zero-width spaces), so "1.2.3" cannot be faked on screen.
const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]+/g;

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** A version value from the outside as safe text: controls become spaces, at most VERSION_MAX characters (by code point). */
export function cleanVersion(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const chars = Array.from(value.replace(UNSHOWABLE, " ").replace(/\s+/g, " ").trim());
  if (chars.length === 0) return null;
  return chars.length > VERSION_MAX ? `${chars.slice(0, VERSION_MAX - 1).join("")}…` : chars.join("");
}

function parseSpool(value: unknown): SpoolSnapshot | null {
  if (typeof value !== "object" || value === null) return null;
  const spool = value as Record<string, unknown>;
  const bytes = num(spool.bytes);
  const age = num(spool.oldest_unshipped_age_seconds);
  if (bytes === null || age === null) return null;
  return { bytes, unshipped_clicks: num(spool.unshipped_clicks), oldest_unshipped_age_seconds: age };
}

/** A /health body as text: each field on its own, so an older release still gives what it has. */
export function parseHealth(text: string): InstanceHealth {
  let body: unknown;
  try {
    body = JSON.parse(text.slice(0, BODY_LIMIT));
  } catch {
    return UNKNOWN_HEALTH;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return UNKNOWN_HEALTH;
  const fields = body as Record<string, unknown>;
  return { spool: parseSpool(fields.click_spool), version: cleanVersion(fields.version) };
}

export async function readInstanceHealth(healthUrl: string, timeoutMs: number): Promise<InstanceHealth> {
  try {
    const res = await fetch(healthUrl, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    return parseHealth(await res.text());
  } catch {
    return UNKNOWN_HEALTH;
  }
}
