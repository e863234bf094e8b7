/**
 * @module The drill's steady load: requests at a fixed offered rate (open loop: a slow answer
 * does not slow the schedule down) through the public port on loopback, mixed like real traffic:
 * redirects of the drill's own codes (80 %), unknown codes (8 %), creates (7 %) and reads (5 %),
 * and, when asked, a CSV import of a few new users (POST /users/bulk) on a schedule of its own.
 * Every answer is one sample labelled with the phase it started in. Bounded in time, in count and
 * in requests in flight.
 */

export type Phase = "before" | "during" | "after";
export type RequestKind = "redirect" | "unknown" | "create" | "read" | "import";
/** The kinds of the per-request mix (kindOf); imports run on their own schedule. */
export type MixKind = Exclude<RequestKind, "import">;
/** ok: the expected status; conn: no HTTP answer (refused, reset, 10 s timeout); 5xx; 4xx: any other status. */
export type Outcome = "ok" | "conn" | "5xx" | "4xx";

export interface Sample {
  phase: Phase;
  kind: RequestKind;
  /** performance.now() when it was sent and when it was answered (ms). */
  sentAt: number;
  doneAt: number;
  outcome: Outcome;
  status: number | null;
  /** The code a redirect asked for, or the code a create got back (201). */
  code?: string;
  /** An import's usernames, one per CSV row: with a 201 each must be a user in PostgreSQL. */
  rows?: string[];
}

export interface LoadTargets {
  /** http://127.0.0.1:PORT: the public port; nothing else is ever sent load. */
  baseUrl: string;
  adminKey: string;
  userId: number;
  links: { id: number; shortCode: string }[];
  /** Unique to this drill: the imports' usernames start with it, so a rerun never collides. */
  tag: string;
}

export interface LoadOptions {
  /** Offered requests per second (default 100). */
  rate: number;
  /** The load stops by itself after this long (ms), whatever happens to the drill. */
  maxMs: number;
  /** Requests in flight at most; a request due beyond it is counted as skipped, not sent (default 256). */
  maxInFlight?: number;
  /** One import every this many ms, the first at the start (none when absent); shares maxInFlight. */
  importEveryMs?: number;
}

export interface Load {
  setPhase(phase: Phase): void;
  /** The samples so far (the array itself, appended to while the load runs). */
  samples(): readonly Sample[];
  /** Stops sending, waits for what is in flight, and returns every sample. */
  stop(): Promise<{ samples: Sample[]; skipped: number }>;
}

/** Twice the service's default statement timeout (DB_STATEMENT_TIMEOUT_MS, 5 s): a request that fails at that timeout is an answer, not a hang. */
const REQUEST_TIMEOUT_MS = 10_000;
const TICK_MS = 10;

/**
 * Deterministic mix over 100 requests: 80 redirects, 8 unknown codes, 7 creates, 5 reads. The
 * stride (coprime with 100) spreads each kind over the window, so a phase of a few dozen requests
 * already holds creates: taken in order, all seven fell into one stretch of 7 requests.
 */
export function kindOf(n: number): MixKind {
  const slot = (n * 37) % 100;
  return slot < 80 ? "redirect" : slot < 88 ? "unknown" : slot < 95 ? "create" : "read";
}

interface Planned { url: string; init: RequestInit; expect: number; code?: string; rows?: string[] }

/** 5 to 20 rows, varying from one import to the next: small, like a team's list, and cheap at any rate. */
export const importRows = (k: number) => 5 + ((k * 7) % 16);

/** Import number `k` of this drill: a users CSV (username,email) of new, unique users, as a multipart upload. */
export function planImport(k: number, t: LoadTargets): Planned {
  const rows = Array.from({ length: importRows(k) }, (_, j) => `${t.tag}-imp${k}-${j}`);
  const csv = ["username,email", ...rows.map((name) => `${name},${name}@example.com`)].join("\n") + "\n";
  const form = new FormData();
  form.append("file", new Blob([csv], { type: "text/csv" }), `${t.tag}-imp${k}.csv`);
  return { url: `${t.baseUrl}/users/bulk`, expect: 201, rows, init: { method: "POST", headers: { authorization: `Bearer ${t.adminKey}` }, body: form } };
}

function plan(kind: MixKind, n: number, t: LoadTargets): Planned {
  const link = t.links[n % t.links.length]!;
  const auth = { authorization: `Bearer ${t.adminKey}` };
  switch (kind) {
    case "redirect": return { url: `${t.baseUrl}/${link.shortCode}`, init: { redirect: "manual" }, expect: 302, code: link.shortCode };
    case "unknown": return { url: `${t.baseUrl}/zzNoDrill${n}`, init: { redirect: "manual" }, expect: 404 };
    case "read": return { url: `${t.baseUrl}/urls/${link.id}`, init: { headers: auth }, expect: 200 };
    case "create": return {
      url: `${t.baseUrl}/urls`, expect: 201,
      init: { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ user_id: t.userId, original_url: `https://example.com/drill/${n}` }) },
    };
  }
}

async function send(p: Planned, kind: RequestKind): Promise<Pick<Sample, "outcome" | "status" | "code" | "rows">> {
  try {
    const res = await fetch(p.url, { ...p.init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await res.text();
    const outcome: Outcome = res.status === p.expect ? "ok" : res.status >= 500 ? "5xx" : "4xx";
    let code = p.code;
    if (kind === "create" && outcome === "ok") code = (JSON.parse(text) as { short_code?: string }).short_code;
    return { outcome, status: res.status, code, rows: p.rows };
  } catch {
    return { outcome: "conn", status: null, code: p.code, rows: p.rows };
  }
}

export function startLoad(targets: LoadTargets, opts: LoadOptions): Load {
  const started = performance.now();
  const maxInFlight = opts.maxInFlight ?? 256;
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  let phase: Phase = "before";
  let issued = 0;
  let importsIssued = 0;
  let skipped = 0;
  let stopped = false;

  const fire = (kind: RequestKind, planned: Planned) => {
    const sentAt = performance.now();
    const label = phase;
    const request = send(planned, kind).then((r) => {
      samples.push({ phase: label, kind, sentAt, doneAt: performance.now(), ...r });
    });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  };
  // One round per tick: send what the schedule says is due by now.
  const timer = setInterval(() => {
    const elapsed = performance.now() - started;
    if (stopped || elapsed > opts.maxMs) { stopped = true; clearInterval(timer); return; }
    const due = Math.floor((elapsed / 1000) * opts.rate);
    for (; issued < due; issued++) {
      const kind = kindOf(issued);
      if (inFlight.size >= maxInFlight) skipped++;
      else fire(kind, plan(kind, issued, targets));
    }
    const importsDue = opts.importEveryMs ? Math.floor(elapsed / opts.importEveryMs) + 1 : 0;
    for (; importsIssued < importsDue; importsIssued++) {
      if (inFlight.size >= maxInFlight) skipped++;
      else fire("import", planImport(importsIssued, targets));
    }
  }, TICK_MS);

  return {
    setPhase(next) { phase = next; },
    samples: () => samples,
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      return { samples, skipped };
    },
  };
}
