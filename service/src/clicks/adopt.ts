/**
 * Adopting orphaned spools: a spool directory beside this instance's whose instance has not
 * said it runs for `staleMs` (its port was removed, or it is down for long) is shipped by this
 * instance, under an advisory lock so that one instance on the host adopts each. The adopter
 * ships until the spool is caught up, then lets go; it never writes to an adopted spool and never
 * deletes its newest segment, so an owner that comes back just goes on appending.
 */
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { ClaimRelease } from "./claim-release.ts";
import type { OffsetsRepo } from "./offsets-repo.ts";
import { createSpoolShipper, type SpoolShipper } from "./shipper.ts";
import { aliveAgeMs, siblingSpools } from "./spool-dir.ts";

export interface AdopterOptions {
  root: string;
  ownDir: string;
  offsets: OffsetsRepo;
  metrics: Metrics;
  logger: Logger;
  batchMax: number;
  /** A spool whose `alive` file is older than this is adopted (ms). */
  staleMs: number;
  /** Gives back the click-cap slots of the adopted spool's dead processes once it is shipped to its end. */
  claims?: Pick<ClaimRelease, "deadIncarnations" | "releaseAdopted">;
}

// One adoption pass never holds a lock for ever: a huge orphan is finished over several passes.
const ROUNDS_PER_PASS = 1_000;

export function createAdopter(opts: AdopterOptions) {
  const shippers = new Map<string, SpoolShipper>();

  async function shipAll(shipper: SpoolShipper): Promise<number> {
    // Judged before the spool is read: a process gone by now can write nothing the rounds miss.
    const dead = (await opts.claims?.deadIncarnations(shipper.spoolId)) ?? [];
    let consumed = 0;
    for (let i = 0; i < ROUNDS_PER_PASS; i++) {
      const round = await shipper.runOnce();
      consumed += round.consumed;
      if (round.caughtUp) await opts.claims?.releaseAdopted(shipper.spoolId, dead);
      if (round.caughtUp || round.contended) break;
    }
    return consumed;
  }

  return {
    /** One pass over the sibling spools; returns the lines shipped. Throws when PostgreSQL fails. */
    async runOnce(): Promise<number> {
      let consumed = 0;
      for (const { dir, id } of siblingSpools(opts.root, opts.ownDir)) {
        if (aliveAgeMs(dir) < opts.staleMs) continue;
        let shipper = shippers.get(dir);
        if (!shipper || shipper.spoolId !== id) {
          shipper = createSpoolShipper({ dir, spoolId: id, offsets: opts.offsets, metrics: opts.metrics, logger: opts.logger, batchMax: opts.batchMax });
          shippers.set(dir, shipper);
        }
        const s = shipper;
        const shipped = await opts.offsets.whileAdopted(id, () => shipAll(s));
        if (shipped) opts.logger.info("shipped clicks of an adopted spool", { dir, spool: id, lines: shipped });
        consumed += shipped ?? 0;
      }
      return consumed;
    },
    /** Unshipped clicks in the adopted spools, as far as their shippers know. */
    unshipped: () => [...shippers.values()].reduce((sum, s) => sum + (s.unshipped() ?? 0), 0),
    /** The oldest unshipped click among the adopted spools. */
    oldest: () => [...shippers.values()].map((s) => s.oldest()).filter((d) => d !== undefined).sort((a, b) => a.getTime() - b.getTime())[0],
  };
}

export type Adopter = ReturnType<typeof createAdopter>;
