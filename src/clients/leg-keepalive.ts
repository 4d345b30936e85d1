/** Each end acknowledges at least this often; the other end hears it through the relay. */
export const KEEPALIVE_MS = 5_000;

/**
 * The keepalive of every resumable leg of this process: a few timers beating them all, not one
 * per leg. The legs share SLOTS slots, each a timer of its own beating its legs together every
 * KEEPALIVE_MS, the slots' beats spread evenly over that period (SLOT_MS apart). The ACKs of one
 * slot leave in one tick, so a relay connection carries them in one write (one TLS record, one
 * system call: the streams' frames of a tick leave together), and the appliance relaying them
 * reads and forwards them in a few records too; a timer per leg fired apart and cost the relay
 * a record, a read and a write per ACK. Spread over the slots, the relay never forwards more than
 * a slot's ACKs in one tick: all of 10,000 legs at once were a burst its young generation could
 * not hold (docs/benchmarks.md, stop 22). A leg joins a slot already beating while one has room
 * (PER_SLOT), so a client with a few sessions wakes once per KEEPALIVE_MS, not SLOTS times.
 */
const SLOTS = 50;
const SLOT_MS = KEEPALIVE_MS / SLOTS;
const PER_SLOT = 100;
/** Where slot k beats: at epoch + k * SLOT_MS, and every KEEPALIVE_MS from there. */
const epoch = Date.now();
interface Slot {
  index: number;
  beats: Set<() => void>;
  timer?: NodeJS.Timeout;
}
const slots: Slot[] = Array.from({ length: SLOTS }, (_, index) => ({ index, beats: new Set() }));
const slotOf = new Map<() => void, Slot>();

/** The slots' timers beating now (at most SLOTS, whatever the number of legs). */
export function keepaliveTimers(): number {
  return slots.filter((s) => s.timer).length;
}

export function startBeating(beat: () => void): void {
  const slot =
    slots.find((s) => s.beats.size > 0 && s.beats.size < PER_SLOT) ??
    slots.find((s) => s.beats.size === 0) ??
    slots.reduce((a, b) => (b.beats.size < a.beats.size ? b : a));
  slot.beats.add(beat);
  slotOf.set(beat, slot);
  if (slot.timer) return;
  const run = () => {
    for (const b of slot.beats) b();
  };
  const phase = (epoch + slot.index * SLOT_MS - Date.now()) % KEEPALIVE_MS;
  slot.timer = setTimeout(
    () => {
      slot.timer = setInterval(run, KEEPALIVE_MS);
      // Not a reason to keep the process alive: the leg's owner decides that.
      slot.timer.unref();
      run();
    },
    (phase + KEEPALIVE_MS) % KEEPALIVE_MS,
  );
  slot.timer.unref();
}

export function stopBeating(beat: () => void): void {
  const slot = slotOf.get(beat);
  if (!slot) return;
  slotOf.delete(beat);
  slot.beats.delete(beat);
  if (slot.beats.size) return;
  // Either the first beat's timeout or the interval after it.
  clearTimeout(slot.timer);
  clearInterval(slot.timer);
  slot.timer = undefined;
}
