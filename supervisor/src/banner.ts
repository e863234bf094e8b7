/**
 * @module The few lines an operator needs after `npm start`: where the shortener answers, the
 * status page, the admin key when this start created it, where the data lives, how to stop.
 * Plain text on stderr, never a log record: the key must not reach a log shipper. Only the
 * process runner shows it; under systemd nobody watches the console.
 */
import { resolve } from "node:path";

export interface BannerFacts {
  publicUrl: string;
  statusUrl: string;
  /** Set only when this start created the first admin key: it is shown this once. */
  adminKey?: string;
  dataDir: string;
  /** PostgreSQL runs embedded under DATA_DIR (else it is DATABASE_URL, never printed: it may hold a password). */
  embeddedDatabase: boolean;
  /** Instances not ready when the banner gave up waiting; 0 normally. */
  notReady: number;
}

export function bannerText(facts: BannerFacts): string {
  const dataDir = resolve(facts.dataDir);
  const rows: [string, string][] = [
    ["URL", facts.publicUrl],
    ["status page", facts.statusUrl],
    facts.adminKey
      ? ["admin API key", `${facts.adminKey}   (new: store it now, it is not shown again)`]
      : ["admin API key", "the one shown at the first start; another: `linkfort keys create --name NAME`"],
    ["data", facts.embeddedDatabase ? `${dataDir} (PostgreSQL in ${dataDir}/postgres)` : `${dataDir} (PostgreSQL: DATABASE_URL)`],
  ];
  const lines = ["", "  linkfort is running", ...rows.map(([name, value]) => `    ${name.padEnd(14)} ${value}`)];
  if (facts.notReady > 0) lines.push(`    ${facts.notReady} instance(s) not ready yet: see the status page`);
  lines.push("  Ctrl-C stops everything.", "", "");
  return lines.join("\n");
}

export interface BannerOptions {
  facts: Omit<BannerFacts, "notReady">;
  /** Instances the banner waits for. */
  instances: number;
  /** How many are ready now (the health watch's view). */
  readyCount: () => number;
  /** Longest wait for every instance to be ready before showing the banner anyway (ms). */
  timeoutMs: number;
  pollMs?: number;
  write?: (text: string) => void;
}

/**
 * Shows the banner once every instance is ready, so it is the last thing on the screen after the
 * start-up lines, or after `timeoutMs` saying how many are not. `stop` cancels a pending banner.
 */
export function showBannerWhenReady(opts: BannerOptions): { shown: Promise<boolean>; stop(): Promise<void> } {
  const write = opts.write ?? ((text: string) => void process.stderr.write(text));
  let stopped = false;
  const shown = (async () => {
    const deadline = Date.now() + opts.timeoutMs;
    while (!stopped && opts.readyCount() < opts.instances && Date.now() < deadline) await Bun.sleep(opts.pollMs ?? 100);
    if (stopped) return false;
    write(bannerText({ ...opts.facts, notReady: opts.instances - Math.min(opts.readyCount(), opts.instances) }));
    return true;
  })();
  return {
    shown,
    async stop() {
      stopped = true;
      await shown;
    },
  };
}
