/** Collects a child's stdout and stderr as they arrive; tests read it to wait for lines and to explain failures. */
export function captureOutput(...streams: ReadableStream<Uint8Array>[]): () => string {
  let text = "";
  for (const stream of streams) {
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
    })();
  }
  return () => text;
}
