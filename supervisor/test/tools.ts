/**
 * External binaries the end-to-end tests need. Locally a missing caddy skips those tests; with
 * CI=true it fails them instead, because CI installs caddy and a skip there would hide a gap.
 */
export const caddyBin: string | null = Bun.which("caddy");

export const inCi = process.env.CI === "true";

/** Skip only outside CI, and only when caddy is missing. */
export const skipWithoutCaddy = caddyBin === null && !inCi;

/** The caddy binary, or a failure that names what is missing. */
export function needsCaddy(): string {
  if (caddyBin === null) throw new Error("caddy is not on PATH (Debian: apt install caddy); with CI=true this test may not skip");
  return caddyBin;
}
