import pkg from "../../../package.json" with { type: "json" };

/** Set by `bun build --define LINKFORT_BUILD_VERSION='"…"'` (deploy/release.sh, from LINKFORT_VERSION). */
declare const LINKFORT_BUILD_VERSION: string | undefined;

/**
 * The version both binaries report (`linkfort version`, `linkfort-supervisor version`, /health,
 * /status): the release's when it was baked in at build time, else package.json's.
 */
export const VERSION: string = typeof LINKFORT_BUILD_VERSION === "string" ? LINKFORT_BUILD_VERSION : pkg.version;
