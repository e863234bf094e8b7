/**
 * A response deadline for PostgreSQL connections. statement_timeout bounds a statement the
 * server is running; it cannot fire when the server, its host or the network in between stopped
 * answering (a paused VM, storage that hangs, a cut link), and postgres.js waits for an answer
 * without limit. This gives the pool its sockets (postgres.js's `socket` option) and watches the
 * wire: a socket with a request outstanding that receives no byte at all for `silenceMs` is
 * destroyed. postgres.js then fails every query on it (a connection error, answered 503) and
 * opens a fresh connection for the next one, so the service recovers the moment the path does.
 *
 * "Outstanding" is counted from the protocol itself: each Sync or simple Query the client sends
 * is answered by exactly one ReadyForQuery, and so is the startup; a Flush (postgres.js sends
 * Parse/Describe/Flush to learn a new statement's types) is answered by whatever comes next. An idle connection (between
 * queries, or a LISTEN session) has nothing outstanding and is never closed for being quiet.
 * TLS hides the messages and wraps the socket itself, so with `ssl` there is no watchdog.
 *
 * Once one socket was closed for silence the server is suspect: until any socket hears a byte
 * again, the others (and new connections' startups) get SUSPECT_SILENCE_MS instead. Without that,
 * a request queued behind a closed connection waited out a second full deadline on the next one.
 */
import net from "node:net";

export interface WatchdogOptions {
  /** Silence (ms) on a socket with a request outstanding before it is destroyed; 0: never. */
  silenceMs: number;
  /** Called once per socket destroyed for silence, with the deadline that applied. */
  onSilence?: (silentMs: number, limitMs: number) => void;
}

/** The part of postgres.js's parsed options the factory reads. */
export interface PgSocketOptions {
  host: string[];
  port: number[];
  path?: string | false;
}

const SYNC = 0x53; // 'S' from the client
const QUERY = 0x51; // 'Q' from the client
const FLUSH = 0x48; // 'H' from the client: answered, but with no ReadyForQuery
const READY_FOR_QUERY = 0x5a; // 'Z' from the server
const COPY_DATA = 0x64; // 'd' from the client (COPY FROM STDIN)
/** The deadline while the server is suspect (ms): a startup or a lookup answers well within it. */
const SUSPECT_SILENCE_MS = 1_000;

/**
 * Walks length-prefixed protocol messages across chunk boundaries and reports each type byte.
 * `untypedFirst`: the stream starts with one message that has no type byte (StartupMessage,
 * SSLRequest, CancelRequest: an int32 length that counts itself, then the body).
 */
export function messageTypes(untypedFirst: boolean, onType: (type: number) => void) {
  let type = -1; // -1: the next byte is a type byte (or, for an untyped message, a length byte)
  let header: number[] = [];
  let skip = 0;
  let untyped = untypedFirst;
  return (chunk: Uint8Array) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      if (type === -1 && !untyped) {
        type = chunk[i++]!;
        onType(type);
        continue;
      }
      header.push(chunk[i++]!);
      if (header.length < 4) continue;
      const length = ((header[0]! << 24) | (header[1]! << 16) | (header[2]! << 8) | header[3]!) >>> 0;
      header = [];
      skip = Math.max(0, length - 4);
      type = -1;
      untyped = false;
    }
  };
}

interface SocketState {
  /** Syncs, simple Queries and the startup sent, minus ReadyForQuery received. */
  outstanding: number;
  /** A Flush went out and nothing came back since. */
  flushed: boolean;
  lastByteAt: number;
}

export function createSocketWatchdog(opts: WatchdogOptions) {
  const watched = new Map<net.Socket, SocketState>();
  let rotation = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  let suspect = false;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  const check = () => {
    const now = performance.now();
    const limit = suspect ? Math.min(opts.silenceMs, SUSPECT_SILENCE_MS) : opts.silenceMs;
    // A pool with no socket open (closed, or idle long enough to drop them) needs no timer.
    if (watched.size === 0) stop();
    for (const [socket, state] of watched) {
      if ((state.outstanding <= 0 && !state.flushed) || now - state.lastByteAt <= limit) continue;
      watched.delete(socket);
      suspect = true;
      opts.onSilence?.(Math.round(now - state.lastByteAt), limit);
      socket.destroy(Object.assign(new Error(`PostgreSQL sent nothing for ${limit} ms with a request outstanding; connection closed`), { code: "ETIMEDOUT" }));
    }
  };

  /** The socket behind a proxy that sees every write: Bun's net.Socket replaces its own `write` while connecting, so wrapping that property is not enough. */
  function watchedSocket(socket: net.Socket): net.Socket {
    // The startup is outstanding from its first byte.
    const state: SocketState = { outstanding: 0, flushed: false, lastByteAt: performance.now() };
    watched.set(socket, state);
    const sent = messageTypes(true, (type) => {
      // The silence that counts starts when a request goes out on a quiet connection, not at
      // the last byte of a conversation that ended long ago. COPY data streaming out is the
      // client talking, not the server being silent.
      if (type === SYNC || type === QUERY || type === FLUSH) {
        if (state.outstanding <= 0 && !state.flushed) state.lastByteAt = performance.now();
        if (type === FLUSH) state.flushed = true;
        else state.outstanding++;
      } else if (type === COPY_DATA) state.lastByteAt = performance.now();
    });
    const received = messageTypes(false, (type) => { if (type === READY_FOR_QUERY) state.outstanding--; });
    let first = true;
    socket.on("data", (chunk: Uint8Array) => {
      state.lastByteAt = performance.now();
      suspect = false;
      state.flushed = false;
      received(chunk);
    });
    socket.on("close", () => watched.delete(socket));
    const write = (chunk: Uint8Array | string, ...rest: unknown[]): boolean => {
      if (first) { state.outstanding++; state.lastByteAt = performance.now(); first = false; }
      if (typeof chunk !== "string") sent(chunk);
      return (socket.write as (chunk: Uint8Array | string, ...rest: unknown[]) => boolean)(chunk, ...rest);
    };
    return new Proxy(socket, {
      get(target, key) {
        if (key === "write") return write;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
      set(target, key, value) { return Reflect.set(target, key, value, target); },
    });
  }

  function watch(socket: net.Socket, ssl: boolean): net.Socket {
    timer ??= setInterval(check, Math.max(50, Math.min(250, opts.silenceMs / 4)));
    timer.unref?.();
    // TLS wraps the socket itself (tls.connect({ socket })) and hides the messages: unwatched.
    return opts.silenceMs > 0 && !ssl ? watchedSocket(socket) : socket;
  }

  return {
    /** postgres.js's `socket` option: a socket connecting to the next host, watched. */
    socket(options: PgSocketOptions & { ssl?: unknown }): net.Socket {
      const socket = new net.Socket();
      // Writes made before the connection is up are buffered by the socket; errors reach
      // postgres.js's own handlers, and its connect_timeout still bounds the whole startup.
      if (options.path) socket.connect(options.path);
      else {
        const i = rotation++ % options.host.length;
        socket.connect(options.port[i] ?? options.port[0]!, options.host[i]!);
      }
      return watch(socket, Boolean(options.ssl));
    },
    /** Watches a socket someone else connected (db/primary.ts chooses the host). */
    watch,
    /** Stops watching (tests; a pool's watchdog stops by itself once its sockets are gone). */
    stop(): void {
      stop();
      watched.clear();
    },
  };
}

export type SocketWatchdog = ReturnType<typeof createSocketWatchdog>;
