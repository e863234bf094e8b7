/**
 * @module A counter of the uploads an instance is reading or importing, so that a burst of large
 * bodies (even with a valid key) cannot push it over its memory limit. A request takes a slot
 * before its body is read and gives it back when its response has gone, whatever the outcome.
 */
import { unavailable } from "./errors.ts";

/** Seconds a client is told to wait when every slot is taken. */
export const UPLOAD_RETRY_AFTER_S = 5;

export interface UploadSlots {
  /** Takes a slot for this request, or throws a 503 when all `limit` are in use. */
  take(request: Request): void;
  /** Gives the request's slot back; a request that holds none is ignored. */
  give(request: Request): void;
  readonly inUse: number;
}

export function uploadSlots(limit: number): UploadSlots {
  const holders = new Set<Request>();
  return {
    take(request) {
      if (holders.has(request)) return;
      if (holders.size >= limit) {
        throw unavailable(`this instance is already reading ${limit} uploads; retry in ${UPLOAD_RETRY_AFTER_S} s`, UPLOAD_RETRY_AFTER_S);
      }
      holders.add(request);
    },
    give(request) {
      holders.delete(request);
    },
    get inUse() {
      return holders.size;
    },
  };
}
