/**
 * Environment every instance runs with unless the operator set it (the quick start's process
 * runner and the benchmarks use this; systemd/linkfort@.service sets the same with Environment=).
 *
 * BUN_JSC_forceRAMSize: JavaScriptCore sizes its heap growth from the machine's RAM, so on a
 * 24 GB host an instance let garbage pile up to a peak RSS of 294 MB while redirecting 1M
 * distinct codes (bench/memory.ts), over the 256 MB bound. Told it has 384 MB, it peaked at 227 MB;
 * since the set of live codes (16 MB more live heap) at 279-281 MB. Told 192 MB: 192-199 MB,
 * at the same throughput in alternating runs (docs/PERFORMANCE.md, "Memory").
 */
export const INSTANCE_RUNTIME_ENV: Readonly<Record<string, string>> = {
  BUN_JSC_forceRAMSize: String(192 * 1024 * 1024),
};
