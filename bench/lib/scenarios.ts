/** The named scenarios: what each sends and which statuses count as the expected answer. */
import type { LoadSpec } from "./load.ts";

export const SCENARIOS = ["redirect-hot", "redirect-hot-options", "redirect-hot-expiry", "redirect-hot-agent", "redirect-spread", "redirect-404", "create", "mixed"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Context {
  codesFile: string;
  hotCode: string;
  /** A link like hotCode but with expires_at set, far in the future (issue #18): every answer judges it. */
  optionsCode: string;
  key: string;
  users: number;
}

type Shape = Pick<LoadSpec, "pathsFile" | "path" | "random404" | "createRatio" | "key" | "userAgent">;

/** What a visitor's browser sends: the agent the shipper's bot check (isbot) reads, off the redirect path. */
export const BROWSER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

export function shapeOf(s: Scenario, ctx: Context): { shape: Shape; expected: Set<number> } {
  switch (s) {
    case "redirect-hot": return { shape: { path: `/${ctx.hotCode}`, createRatio: 0 }, expected: new Set([302]) };
    // redirect-hot with what issue #18 adds to every answer: an expiry to judge, a browser's agent to keep.
    case "redirect-hot-options": return { shape: { path: `/${ctx.optionsCode}`, createRatio: 0, userAgent: BROWSER_AGENT }, expected: new Set([302]) };
    // Each half of redirect-hot-options alone, to tell what each costs.
    case "redirect-hot-expiry": return { shape: { path: `/${ctx.optionsCode}`, createRatio: 0 }, expected: new Set([302]) };
    case "redirect-hot-agent": return { shape: { path: `/${ctx.hotCode}`, createRatio: 0, userAgent: BROWSER_AGENT }, expected: new Set([302]) };
    case "redirect-spread": return { shape: { pathsFile: ctx.codesFile, createRatio: 0 }, expected: new Set([302]) };
    case "redirect-404": return { shape: { random404: true, createRatio: 0 }, expected: new Set([404]) };
    case "create": return { shape: { path: "/", createRatio: 1, key: ctx.key }, expected: new Set([201]) };
    // The key rides on the redirects too: one header more, and the same request shape for both tools.
    case "mixed": return { shape: { pathsFile: ctx.codesFile, createRatio: 0.05, key: ctx.key }, expected: new Set([201, 302]) };
  }
}

export function parseScenarios(list: string | undefined): Scenario[] {
  if (!list) return [...SCENARIOS];
  return list.split(",").map((s) => {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (${SCENARIOS.join(", ")})`);
    return s as Scenario;
  });
}
