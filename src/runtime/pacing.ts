/**
 * Waiting for a tick's start time.
 *
 * Node's timers count whole milliseconds of the event loop's cached clock, so a setTimeout to a
 * tick start fires up to a millisecond early or late. Measured on the project's 2-core VM with
 * 0.2 ms of work per tick: at 1 kHz the timer woke 0.58 ms late at p50 (1.18 ms p99) and 717 of
 * 3,000 ticks overran their slot (964 Hz achieved); at 200 Hz it woke 0.32 ms early at p50.
 *
 * So the event loop sleeps on a timer until PRECISE_WAIT_MS before the start, and the rest is a
 * timed wait on a private shared word (Atomics.wait): it blocks this thread without spinning and
 * wakes within the OS's timer slack (measured: 78–83 µs late at p50, 130–170 µs p99; 6 of 3,000
 * ticks overran at 1 kHz, 998 Hz achieved; no more CPU than the timer alone). I/O that arrives
 * during that last stretch waits at most PRECISE_WAIT_MS + the timer's error in the kernel and
 * is read on the next event-loop turn, so nothing is lost; the tick loop reads replies only
 * after it sends the next tick anyway.
 */
import { assert } from '../core/assert.js';

/** The part of a sleep done by the precise wait rather than the event loop's timer. */
export const PRECISE_WAIT_MS = 1.5;
/**
 * Inside PRECISE_WAIT_MS of a deadline, the event loop sleeps in slices this long and polls its
 * I/O between them: a reply that arrives is read within about a slice (plus the OS's timer slack).
 */
export const DEADLINE_SLICE_MS = 0.1;
/**
 * At the deadline, a few more event-loop turns let I/O deliver replies that reached the host in
 * time while it was descheduled, so a stalled host does not blame every replica at once. Pipes
 * deliver in the next poll phase; serialport reads in two hops (poll, then a threadpool read whose
 * completion comes a turn later), hence more than one turn.
 */
export const DEADLINE_DRAIN_TURNS = 4;
/** Longest sleep asked for (a tick period is at most 1 s: --rate-hz ≥ 1). */
const SLEEP_MS_MAX = 2_000;

const waitWord = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread until performance.now() ≥ atMs (bounded by PRECISE_WAIT_MS + the timer's error). */
function waitPrecisely(atMs: number): void {
  // Atomics.wait's clock and performance.now() are both monotonic; the loop covers a wake a hair early.
  for (let leftMs = atMs - performance.now(); leftMs > 0; leftMs = atMs - performance.now()) {
    Atomics.wait(waitWord, 0, 0, leftMs);
  }
}

/** Resolves at `atMs` (performance.now() time), never before it; at once if it has passed. */
export function sleepUntil(atMs: number): Promise<void> {
  const delayMs = atMs - performance.now();
  if (delayMs <= 0) return Promise.resolve();
  assert(delayMs <= SLEEP_MS_MAX, 'sleep beyond a tick period');
  return new Promise((resolve) => {
    const wake = (): void => {
      const leftMs = atMs - performance.now();
      if (leftMs > PRECISE_WAIT_MS) {
        setTimeout(wake, leftMs - PRECISE_WAIT_MS);
        return;
      }
      waitPrecisely(atMs);
      resolve();
    };
    wake();
  });
}

export interface Deadline {
  /** Stops it: `onExpired` will not be called. */
  cancel(): void;
}

/**
 * Calls `onExpired` once performance.now() has passed `atMs` and DEADLINE_DRAIN_TURNS more
 * event-loop turns have run, unless cancelled first; the event loop keeps serving I/O meanwhile.
 *
 * Far from the deadline a timer waits; within PRECISE_WAIT_MS of it the loop sleeps in slices of
 * DEADLINE_SLICE_MS between I/O polls. It never spins: polling on setImmediate alone kept the
 * host on its core for the whole wait, and on a 2-core machine a replica woken by the tick then
 * waited for that core (measured with perf sched at 1 kHz: replicas delayed 0.7–0.8 ms behind the
 * spinning host, every few ticks, so their replies missed the 0.75 ms deadline).
 */
export function armDeadline(atMs: number, onExpired: () => void): Deadline {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let cancelled = false;
  const drain = (turnsLeft: number): void => {
    if (cancelled) return;
    if (turnsLeft === 0) onExpired();
    else immediate = setImmediate(() => drain(turnsLeft - 1));
  };
  const wake = (): void => {
    if (cancelled) return;
    const remainingMs = atMs - performance.now();
    if (remainingMs <= 0) drain(DEADLINE_DRAIN_TURNS);
    else if (remainingMs > PRECISE_WAIT_MS) timer = setTimeout(wake, remainingMs - PRECISE_WAIT_MS);
    else {
      Atomics.wait(waitWord, 0, 0, Math.min(DEADLINE_SLICE_MS, remainingMs));
      // One event-loop turn (its poll phase reads what arrived meanwhile) before the next slice.
      immediate = setImmediate(wake);
    }
  };
  wake();
  return {
    cancel: () => {
      cancelled = true;
      clearTimeout(timer);
      clearImmediate(immediate);
    },
  };
}
