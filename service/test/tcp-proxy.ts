import net from "node:net";

/**
 * A loopback TCP proxy in front of the test PostgreSQL: stopping it is a real outage for the
 * pool behind it (connections cut, new ones refused), starting it again a real recovery. With
 * `delayMs` every chunk, each way, arrives that much later (in order): a slow network path.
 * `hold()` cuts the path without closing anything: connections stay open and new ones are
 * accepted, but no byte passes either way until `release()`, which delivers what waited, in
 * order (what TCP retransmission does once a cut link heals). `hold({ answersOnly: true })` holds
 * only what the server sends: statements still reach PostgreSQL and commit, their answers wait.
 */
export function tcpProxy(target: { host: string; port: number }, opts: { delayMs?: number } = {}) {
  let server: net.Server | undefined;
  let port = 0;
  const sockets = new Set<net.Socket>();
  let held: { to: net.Socket; chunk: Buffer }[] | undefined;
  let answersOnly = false;
  const pass = (to: net.Socket, chunk: Buffer, fromServer: boolean) => {
    if (held && (fromServer || !answersOnly)) held.push({ to, chunk });
    else if (!to.destroyed) to.write(chunk);
  };
  return {
    get port() { return port; },
    async start(): Promise<void> {
      server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        const close = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
        for (const s of [client, upstream]) { sockets.add(s); s.on("error", close); s.on("close", close); }
        const delayMs = opts.delayMs ?? 0;
        // Same delay for every chunk, so timers fire in arrival order and the stream stays in order.
        const forward = (from: net.Socket, to: net.Socket, fromServer: boolean) =>
          from.on("data", (chunk: Buffer) => { if (delayMs === 0) pass(to, chunk, fromServer); else setTimeout(() => pass(to, chunk, fromServer), delayMs); });
        forward(client, upstream, false);
        forward(upstream, client, true);
      });
      await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
      port = (server.address() as net.AddressInfo).port;
    },
    /** Cut the path: nothing passes (with `answersOnly`, nothing comes back), nothing is closed. */
    hold(opts: { answersOnly?: boolean } = {}): void { held ??= []; answersOnly = opts.answersOnly ?? false; },
    /** Heal the path: what waited is delivered in order, and bytes flow again. */
    release(): void {
      const waiting = held ?? [];
      held = undefined;
      for (const { to, chunk } of waiting) if (!to.destroyed) to.write(chunk);
    },
    async stop(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server?.close(resolve));
    },
  };
}

export type TcpProxy = ReturnType<typeof tcpProxy>;
