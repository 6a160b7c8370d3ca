/**
 * The execution host's V8 flags, one list for every way it is started (the
 * kernel's client when it starts one, the exechost bench, and kernel/launch.ts,
 * which spells the same list out because it imports nothing of ours;
 * test/exechost/v8flags.test.ts holds them equal), so what the bench measures
 * is what runs:
 * - a 1 MiB young generation (at the default 16 MiB the host's young
 *   generation alone grew to ~48 MiB committed under a burst);
 * - old space grows by 10% of what survived the last full collection instead
 *   of V8's 1.1x-4x (8 MiB minimum step): the host's per-run garbage that
 *   outlives a scavenge (a run's state lives from Start to Acknowledge) was
 *   left to pile up to 30-45 MiB of old space before a full collection, over
 *   a live heap of 11-13 MiB (heap snapshots before and after 1,000 runs:
 *   10.8 and 11.9 MiB). Not --max-old-space-size: a sandboxed commit of a big
 *   tree that once needs more would crash the host instead of growing it.
 */
export const HOST_V8_FLAGS: ReadonlyArray<string> = ["--max-semi-space-size=1", "--heap-growing-percent=10"]
