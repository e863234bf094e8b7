/**
 * @module The console's page, stylesheet and script, embedded in the supervisor's binary (`bun
 * build --compile` inlines a `type: "text"` import; `bun run` reads the files). Nothing is
 * loaded from anywhere else: the VM may be offline, and the CSP allows this origin only.
 */
// @ts-expect-error TS7016: browser scripts, not modules of this program; a text import is their source.
import script from "./assets/console.js" with { type: "text" };
// @ts-expect-error TS7016: as above.
import charts from "./assets/charts.js" with { type: "text" };
// @ts-expect-error TS7016: as above.
import logs from "./assets/logs.js" with { type: "text" };
// @ts-expect-error TS7016: as above.
import rehearsals from "./assets/rehearsals.js" with { type: "text" };
// @ts-expect-error TS7016: as above.
import links from "./assets/links.js" with { type: "text" };
import page from "./assets/console.html" with { type: "text" };
import style from "./assets/console.css" with { type: "text" };

// bun-types call every .html import an HTMLBundle (its HTML-import feature); with type "text" it is the text.
export const CONSOLE_HTML = page as unknown as string;
export const CONSOLE_CSS: string = style;
/** Path under /assets/ → the script's source. */
export const CONSOLE_SCRIPTS: Record<string, string> = { "console.js": script as string, "charts.js": charts as string, "logs.js": logs as string, "rehearsals.js": rehearsals as string, "links.js": links as string };

export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join("; ");
