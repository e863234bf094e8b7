/**
 * Collects a child's stdout and stderr as they arrive; tests read it to wait for lines and to
 * explain failures. Each stream adds whole lines only: a pipe hands over whatever bytes are there,
 * and a JSON log line cut by the other stream's chunk would no longer parse (a test waiting for
 * it would time out, or one reading it would find nothing). A stream's unfinished last line is
 * shown after the whole ones, so a prompt or a dying process's last words are still visible.
 */
export function captureOutput(...streams: ReadableStream<Uint8Array>[]): () => string {
  let lines = "";
  const partial: string[] = streams.map(() => "");
  streams.forEach((stream, index) => {
    void (async () => {
      const decoder = new TextDecoder();
      const take = (text: string) => {
        const pending = partial[index] + text;
        const end = pending.lastIndexOf("\n") + 1;
        lines += pending.slice(0, end);
        partial[index] = pending.slice(end);
      };
      for await (const chunk of stream) take(decoder.decode(chunk, { stream: true }));
      take(decoder.decode());
    })();
  });
  return () => lines + partial.join("");
}
