/**
 * Regression: Elysia parses a body before `derive`, where the key was checked, so an anonymous
 * POST /users/bulk made an instance read and parse up to 10 MiB before its 401, and a few dozen
 * slow anonymous uploads pushed instances over their memory limit. These tests talk raw HTTP to
 * a listening app: headers, a little of the body, and the answer must come before the rest.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import { waitFor } from "../../test/wait.ts";
import { MAX_CONCURRENT_UPLOADS, MULTIPART_BODY_LIMIT } from "./body-limits.ts";
import { JSON_BODY_LIMIT } from "./json-body.ts";

let h: TestApp;
let port: number;
beforeAll(async () => {
  h = await testApp();
  h.app.listen({ hostname: "127.0.0.1", port: 0 });
  port = h.app.server!.port!;
}, 30_000);
afterAll(async () => {
  await h.app.stop(true);
  await h.close();
}, 30_000);

const BOUNDARY = "----linkfort-test";
const CHUNK = new Uint8Array(64 * 1024).fill(0x61);

interface SlowUpload {
  /** The status line and headers, once they arrive. */
  head: Promise<string>;
  /** Whole response text so far. */
  received(): string;
  /** Body bytes written so far. */
  sent(): number;
  /** Sends `bytes` more of the body (up to its declared length). */
  send(bytes: number): void;
  close(): void;
}

/** Opens a connection and sends a request's head with a declared body of `length` bytes, and none of it. */
async function slowUpload(path: string, length: number, headers: Record<string, string>): Promise<SlowUpload> {
  let text = "";
  let sent = 0;
  let resolveHead!: (head: string) => void;
  const head = new Promise<string>((r) => (resolveHead = r));
  const socket = await Bun.connect({
    hostname: "127.0.0.1", port,
    socket: {
      data(_s, data) {
        text += new TextDecoder().decode(data);
        const end = text.indexOf("\r\n\r\n");
        if (end >= 0) resolveHead(text.slice(0, end));
      },
      close() { resolveHead(text); },
    },
  });
  const lines = [`POST ${path} HTTP/1.1`, "Host: localhost", `Content-Length: ${length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  return {
    head, received: () => text, sent: () => sent,
    send(bytes) {
      for (let left = Math.min(bytes, length - sent); left > 0; left -= CHUNK.byteLength) {
        const n = Math.min(left, CHUNK.byteLength);
        socket.write(CHUNK.subarray(0, n));
        sent += n;
      }
    },
    close: () => socket.end(),
  };
}

const multipart = { "Content-Type": `multipart/form-data; boundary=${BOUNDARY}` };
const status = (head: string) => Number(head.split(" ")[1]);
const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as unknown;
/** Resolves with the head, or with "no answer" after `ms` (the answer this test must not see). */
const within = (p: Promise<string>, ms: number) => Promise.race([p, Bun.sleep(ms).then(() => "no answer")]);

describe("the key is checked before a body is read", () => {
  test("an anonymous upload at the size limit gets its 401 before the body is sent", async () => {
    const up = await slowUpload("/users/bulk", MULTIPART_BODY_LIMIT, multipart);
    up.send(1024);
    const head = await within(up.head, 5_000);
    up.close();
    expect(head).toStartWith("HTTP/1.1 401");
    expect(up.sent()).toBe(1024);
    expect(up.received()).toContain('"error":"Unauthorized"');
  });

  test("an anonymous JSON body at the size limit gets its 401 before the body is sent", async () => {
    const up = await slowUpload("/urls", JSON_BODY_LIMIT, { "Content-Type": "application/json" });
    up.send(10);
    const head = await within(up.head, 5_000);
    up.close();
    expect(head).toStartWith("HTTP/1.1 401");
    expect(bodyOf(up.received())).toEqual({ error: "Unauthorized", message: expect.any(String) });
  });

  test("a user key gets its 403 on the admin-only upload before the body is sent", async () => {
    const [user] = await h.deps.sql<{ id: number }[]>`insert into users (username, email) values ('early-auth-user', 'eau@example.com') returning id`;
    const key = await h.insertKey("user", user!.id);
    const up = await slowUpload("/users/bulk", MULTIPART_BODY_LIMIT, { ...multipart, Authorization: `Bearer ${key}` });
    up.send(1024);
    const head = await within(up.head, 5_000);
    up.close();
    expect(head).toStartWith("HTTP/1.1 403");
  });

  test("resident memory stays flat over many anonymous uploads at the size limit", async () => {
    Bun.gc(true);
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 5);
    // 40 at once, each sending its whole 10 MiB body: read and parsed, that was about 1 GB.
    const answers = await Promise.all(Array.from({ length: 40 }, async () => {
      const up = await slowUpload("/users/bulk", MULTIPART_BODY_LIMIT, multipart);
      up.send(MULTIPART_BODY_LIMIT);
      const head = await within(up.head, 20_000);
      up.close();
      return status(head);
    }));
    clearInterval(sampler);
    expect(answers).toEqual(Array(40).fill(401));
    const grewMiB = (peak - before) / 2 ** 20;
    expect(grewMiB, `RSS grew by ${grewMiB.toFixed(0)} MiB`).toBeLessThan(96);
  }, 60_000);
});

describe("concurrent uploads per instance", () => {
  test(`beyond ${MAX_CONCURRENT_UPLOADS} uploads in progress, one more is a 503 with Retry-After; a slot frees when its upload ends`, async () => {
    const auth = { ...multipart, Authorization: `Bearer ${h.adminKey}` };
    const held = await Promise.all(Array.from({ length: MAX_CONCURRENT_UPLOADS }, () => slowUpload("/users/bulk", MULTIPART_BODY_LIMIT, auth)));
    for (const up of held) up.send(1024);
    // Each is now waiting for the rest of its body, holding a slot.
    const extra = await waitFor("a 503 for one upload too many", async () => {
      const up = await slowUpload("/users/bulk", 100, auth);
      up.send(100);
      const head = await within(up.head, 5_000);
      up.close();
      return status(head) === 503 ? up : false;
    }, 25_000); // the held uploads take their slots once the server reads their first bytes: slow on a busy machine
    expect(extra.received()).toContain("Retry-After: 5");
    expect(bodyOf(extra.received())).toEqual({ error: "Service Unavailable", message: `this instance is already reading ${MAX_CONCURRENT_UPLOADS} uploads; retry in 5 s` });
    for (const up of held) up.close();

    const csv = "username,email\nslot-freed,slot-freed@example.com\n";
    const form = new FormData();
    form.append("file", new File([csv], "u.csv", { type: "text/csv" }));
    const ok = await waitFor("a slot given back by the closed uploads", async () => {
      const res = await h.request("POST", "/users/bulk", { raw: form });
      return res.status === 201 ? res : false;
    });
    expect(ok.json).toEqual({ imported: 1, skipped: 0, errors: [], errors_truncated: false });
  }, 60_000);
});
