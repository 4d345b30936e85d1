/**
 * Wait for a condition with a deadline (never a fixed sleep): polls `probe` until it returns a
 * truthy value, then returns that value; throws with `what` after `timeoutMs`.
 */
export async function until<T>(
  probe: () => Promise<T> | T,
  timeoutMs: number,
  what = 'condition',
  intervalMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
