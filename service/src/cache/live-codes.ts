/**
 * Every short code in urls, held by this instance (code-set.ts), so a code that is not there
 * answers 404 without a query. Loaded in pages once LISTEN is in place (so whatever commits
 * during the load is heard, and whatever committed before is in the pages), kept current by what
 * the invalidation channel carries, and loaded afresh after anything it may have missed (a
 * dropped connection, a '*' flush). Until a load completes it is not ready and says nothing.
 *
 * A code heard on the channel is added whatever the statement was: an UPDATE may have given a
 * row a new code, and a deleted code that stays only costs a query, whose 404 (`gone`) takes it
 * out again.
 */
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import { createCodeSet, type CodeSet } from "./code-set.ts";

/**
 * The next `limit` rows of urls after code `after` in the unique index's order ("" for the first
 * page): how many rows, the last row's code (where the next page starts), and the codes a path can
 * name (redirect/model.ts isCodeShaped), separated by single spaces. One string per page instead
 * of a row object and a string per code: loading a million codes made about 40 MB of garbage.
 */
export type CodePage = (after: string, limit: number) => Promise<{ rows: number; last: string; codes: string }>;

export interface LiveCodesOptions {
  page: CodePage;
  /** About how many codes there are, to size the set once instead of growing it (garbage the size of the set). */
  estimate?: () => Promise<number>;
  metrics: Metrics;
  logger: Logger;
  /** Rows per page (tests make it small to load in many pages). */
  pageSize?: number;
}

// A page of 10,000 takes about 18 ms (1M codes: 101 pages in 1.85 s, docs/PERFORMANCE.md), so a
// load never holds a pool connection for long.
const PAGE_SIZE = 10_000;
// After a failed page the load waits this long, doubling to RETRY_MAX_MS, and goes on from there.
const RETRY_MS = 100;
const RETRY_MAX_MS = 2_000;

export function createLiveCodes(opts: LiveCodesOptions) {
  const { metrics, logger } = opts;
  const pageSize = opts.pageSize ?? PAGE_SIZE;
  let codes: CodeSet = createCodeSet();
  // The set a load is filling; what is heard meanwhile goes into both.
  let filling: CodeSet | undefined;
  let ready = false;
  // Bumped by each reload and suspend: a load that sees another number was overtaken and stops.
  let generation = 0;
  let loading: Promise<void> = Promise.resolve();

  const setReady = (value: boolean) => {
    ready = value;
    metrics.cacheLiveCodesReady.set(value ? 1 : 0);
  };

  async function load(mine: number): Promise<void> {
    const started = performance.now();
    const estimate = await (opts.estimate?.() ?? Promise.resolve(0)).catch(() => 0);
    if (generation !== mine) return;
    const next = createCodeSet(Math.max(codes.size, estimate));
    filling = next;
    let after = "";
    let delay = RETRY_MS;
    while (generation === mine) {
      let page: Awaited<ReturnType<CodePage>>;
      try {
        page = await opts.page(after, pageSize);
      } catch (error) {
        if (generation !== mine) return;
        logger.warn("loading the live short codes failed; retrying (unknown codes are looked up meanwhile)", { error, after });
        await Bun.sleep(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
        continue;
      }
      if (generation !== mine) return;
      next.addJoined(page.codes);
      if (page.rows < pageSize) break;
      after = page.last;
    }
    if (generation !== mine) return;
    codes = next;
    filling = undefined;
    setReady(true);
    const seconds = (performance.now() - started) / 1000;
    metrics.cacheLiveCodes.set(codes.size);
    metrics.cacheLiveCodesLoadSeconds.set(seconds);
    logger.info("live short codes loaded", { codes: codes.size, seconds: Math.round(seconds * 1000) / 1000, table_bytes: codes.bytes });
  }

  return {
    /** True while a completed load stands and nothing since could have been missed. */
    get ready(): boolean {
      return ready;
    },
    /** False: the code is in no row of urls (as far as what was heard tells). */
    has(code: string): boolean {
      return codes.has(code);
    },
    /** Codes a notification or a write named. */
    add(list: readonly string[]): void {
      for (const code of list) {
        codes.add(code);
        filling?.add(code);
      }
      metrics.cacheLiveCodes.set(codes.size);
    },
    /** A code PostgreSQL just answered "no such row" for, with nothing heard about it meanwhile. */
    gone(code: string): void {
      codes.delete(code);
      filling?.delete(code);
    },
    /** Not ready until reload: notifications may go unheard from now on. */
    suspend(): void {
      generation++;
      filling = undefined;
      setReady(false);
    },
    /** Loads every code afresh (call once LISTEN is in place); not ready until it is done. */
    reload(): Promise<void> {
      const mine = ++generation;
      setReady(false);
      loading = load(mine);
      return loading;
    },
    /** The load in progress, or the last one (tests, shutdown). */
    get loading(): Promise<void> {
      return loading;
    },
    get size(): number {
      return codes.size;
    },
  };
}

export type LiveCodes = ReturnType<typeof createLiveCodes>;
