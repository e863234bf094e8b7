/** A FIFO of clicks with O(1) push and drop-oldest, for the buffered sink. */
import type { Click } from "./model.ts";

export function createClickQueue() {
  let items: Click[] = [];
  let head = 0;

  // Reclaim the consumed prefix once it is the larger part, so memory follows the live size.
  const compact = () => {
    if (head > 1024 && head * 2 > items.length) {
      items = items.slice(head);
      head = 0;
    }
  };

  return {
    size: () => items.length - head,
    push(click: Click): void {
      items.push(click);
    },
    dropOldest(): void {
      if (head < items.length) head++;
      compact();
    },
    /** Removes and returns up to n of the oldest clicks. */
    take(n: number): Click[] {
      const batch = items.slice(head, head + n);
      head += batch.length;
      compact();
      return batch;
    },
    /** Puts a batch that could not be written back in front, oldest first. */
    putBack(batch: readonly Click[]): void {
      items = [...batch, ...items.slice(head)];
      head = 0;
    },
    clear(): void {
      items = [];
      head = 0;
    },
  };
}
