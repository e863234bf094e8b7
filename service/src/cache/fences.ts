/**
 * Fences: NOTIFYs an instance sends after a commit to learn that the invalidations before them
 * were heard. PostgreSQL delivers notifications in commit order, so an instance that hears a
 * fence has already handled every notification committed before it.
 *
 * A heartbeat fence (`!h<id>:<seq>`) only tells the sender that its own listener delivers, and
 * tells the others that the sender is alive. A write's fence (`!w<id>:<seq>`) is answered by
 * every other listening instance with an ack (`?<id>:<seq>:<acker>`) once it has heard it, and
 * the writer waits for its own fence and every live peer's ack: two listeners are woken by
 * PostgreSQL independently, and on a busy machine one hears a commit milliseconds after the
 * other, long enough for a client to be answered by the writer and ask the slow one.
 *
 * A peer first heard while a write's fence is on its way (it started listening just now) is
 * waited for too: what it sent committed before the fence, so it is listening and will ack.
 * `lastHeardSentAt` says when the newest own fence heard back was sent: everything committed
 * before that moment has been heard here (cache/absence.ts builds on it).
 */

export interface FenceOptions {
  /** NOTIFYs the payload on the invalidation channel (through the pool); false when it could not. */
  send(payload: string): Promise<boolean>;
  /** How long a peer counts as alive after it was last heard from (ms). */
  peerLifeMs: number;
}

interface Waiter {
  heardOwn: boolean;
  /** Peers that must ack before the writer may go on; emptied as acks arrive. */
  pending: Set<string>;
  wantsAcks: boolean;
  /** Peers already counted for this fence: waited for, or acked. */
  asked: Set<string>;
  /** performance.now() just before the NOTIFY was sent. */
  sentAt: number;
  done(): void;
}

export function createFences(opts: FenceOptions) {
  const me = crypto.randomUUID().slice(0, 8);
  const peers = new Map<string, number>();
  const waiting = new Map<number, Waiter>();
  let sequence = 0;
  let lastHeardSentAt = Number.NEGATIVE_INFINITY;

  /** A peer heard from: alive now, and waited for by every write fence not yet back here. */
  const heardFrom = (peer: string) => {
    peers.set(peer, Date.now());
    for (const waiter of waiting.values()) {
      if (!waiter.wantsAcks || waiter.heardOwn || waiter.asked.has(peer)) continue;
      waiter.asked.add(peer);
      waiter.pending.add(peer);
    }
  };

  const settleIfDone = (seq: number, waiter: Waiter) => {
    if (!waiter.heardOwn || (waiter.wantsAcks && waiter.pending.size > 0)) return;
    waiting.delete(seq);
    waiter.done();
  };

  function onFence(payload: string): void {
    const colon = payload.indexOf(":");
    const kind = payload[1];
    const from = payload.slice(2, colon);
    if (from !== me) {
      heardFrom(from);
      if (kind === "w") void opts.send(`?${from}:${payload.slice(colon + 1)}:${me}`);
      return;
    }
    const seq = Number(payload.slice(colon + 1));
    // Map order is send order: every own fence up to this one has been delivered.
    for (const [n, waiter] of waiting) {
      if (n > seq) break;
      waiter.heardOwn = true;
      if (waiter.sentAt > lastHeardSentAt) lastHeardSentAt = waiter.sentAt;
      settleIfDone(n, waiter);
    }
  }

  function onAck(payload: string): void {
    const [to, seqText, from] = payload.slice(1).split(":");
    if (from === undefined || from === me) return;
    heardFrom(from);
    if (to !== me) return;
    const seq = Number(seqText);
    const waiter = waiting.get(seq);
    if (!waiter) return;
    waiter.pending.delete(from);
    settleIfDone(seq, waiter);
  }

  const livePeers = () => {
    const since = Date.now() - opts.peerLifeMs;
    const live = new Set<string>();
    for (const [id, at] of peers) {
      if (at >= since) live.add(id);
      else peers.delete(id);
    }
    return live;
  };

  return {
    /** Handles a payload starting with "!" or "?"; true when it was one. */
    heard(payload: string): boolean {
      const first = payload.charCodeAt(0);
      if (first === 33) onFence(payload); // "!"
      else if (first === 63) onAck(payload); // "?"
      else return false;
      return true;
    },

    /**
     * Sends a fence and waits for it to come back (and, for a write, for every live peer's ack).
     * Resolves "heard", "unacked" (heard here, some peer silent) or "missed" within timeoutMs.
     */
    async fence(kind: "h" | "w", timeoutMs: number): Promise<"heard" | "unacked" | "missed"> {
      const seq = ++sequence;
      let timer: Timer | undefined;
      const pending = kind === "w" ? livePeers() : new Set<string>();
      const waiter: Waiter = { heardOwn: false, pending, asked: new Set(pending), wantsAcks: kind === "w", sentAt: performance.now(), done: () => {} };
      const complete = new Promise<void>((resolve) => {
        waiter.done = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      waiting.set(seq, waiter);
      if (!(await opts.send(`!${kind}${me}:${seq}`))) waiter.done();
      await complete;
      clearTimeout(timer);
      waiting.delete(seq);
      if (!waiter.heardOwn) return "missed";
      return waiter.pending.size > 0 ? "unacked" : "heard";
    },

    /** performance.now() when the newest own fence heard back was sent; -Infinity before the first. */
    get lastHeardSentAt(): number {
      return lastHeardSentAt;
    },

    /** Peers heard from within peerLifeMs (tests, /health). */
    get peers(): number {
      return livePeers().size;
    },
  };
}

export type Fences = ReturnType<typeof createFences>;
