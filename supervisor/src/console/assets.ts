/**
 * @module The console's page, stylesheet and script, embedded in the supervisor's binary (`bun
 * build --compile` inlines a `type: "text"` import; `bun run` reads the files). Nothing is
 * loaded from anywhere else: the VM may be offline, and the CSP allows this origin only.
 */
// @ts-expect-error TS7016: a browser script, not a module of this program; a text import is its source.
import script from "./assets/console.js" with { type: "text" };
import page from "./assets/console.html" with { type: "text" };
import style from "./assets/console.css" with { type: "text" };

// bun-types call every .html import an HTMLBundle (its HTML-import feature); with type "text" it is the text.
export const CONSOLE_HTML = page as unknown as string;
export const CONSOLE_CSS: string = style;
export const CONSOLE_JS: string = script as string;

export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join("; ");
