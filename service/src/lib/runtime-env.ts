/**
 * Environment every instance runs with unless the operator set it (the quick start's process
 * runner and the benchmarks use this; systemd/linkfort@.service sets the same with Environment=).
 *
 * BUN_JSC_forceRAMSize: JavaScriptCore sizes its heap growth from the machine's RAM, so on a
 * 24 GB host an instance let garbage pile up to a peak RSS of 294 MB while redirecting 1M
 * distinct codes (bench/memory.ts), over the 256 MB bound. Told it has 384 MB, it collects
 * sooner: peak 227 MB, final 191 MB, at the same throughput (docs/PERFORMANCE.md).
 */
export const INSTANCE_RUNTIME_ENV: Readonly<Record<string, string>> = {
  BUN_JSC_forceRAMSize: String(384 * 1024 * 1024),
};
