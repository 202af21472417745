/**
 * A discrete-event scheduler in simulated time, and the Clock it gives each simulated process.
 *
 * Time starts at 0 ms and moves only from one event to the next. An event is (atMs, seq, owner,
 * fn); events run in (atMs, seq) order, seq a global counter, so equal times run in the order they
 * were scheduled and a run is a pure function of what schedules them: no real time, no
 * Math.random. The owner is a simulated process ('host', 'replica 1'). A stalled owner does
 * nothing (SIGSTOP): its events wait, then run at once when it continues, in the order they would
 * have run (a window known in advance with stall(), or stallOpen() … resume() as SIGSTOP …
 * SIGCONT). A released event keeps its due time as a tie-break, so at the release time it runs
 * before the owner's events that were due only then, and deliveries on a link never overtake each
 * other across a stall. Stalls hold events, not promise continuations: an owner's async code moves
 * on only through its own events (timers, sleeps, deliveries).
 *
 * The code under simulation is ordinary async code. Between two events the scheduler lets every
 * promise continuation run, so an `await` costs no simulated time. Each event runs from its own
 * real setImmediate callback (the only real-time thing here), and Node drains process.nextTick and
 * the microtask queue completely before every immediate callback: between two of one check phase
 * (processImmediate calls runNextTicks before each) exactly as between two turns of the event
 * loop. So run() queues STEPS_PER_TURN step callbacks per turn instead of one; all that a turn
 * adds between them is real timers and real I/O, and the simulation has none: nothing else real
 * may be pending. Code that waits on a real timer or real I/O never sees it fire inside the
 * simulation (run() reports a deadlock when only such a wait is left). The test "drains every
 * promise continuation and nextTick between two events" checks the drain.
 *
 * Speed (Node 20, `npx tsx`, the project's 2-core VM while a CI run loaded it, load average 4):
 * events that only reschedule themselves (a repeating timer) ran at 2.0–2.2 million per second,
 * events that each resume an async main (`await sleepUntil`) at 1.1–1.2 million per second, over
 * 2 million events. With one step per turn of the event loop (and its I/O poll) they ran at
 * 0.18–0.25 million per second. The code under simulation costs far more: a full-stack run
 * (runFullStack, 3 replicas, 400 ticks) does 30–40 thousand events per second of real time.
 */
import { assert, fail } from '../core/assert.js';
import type { Clock, Timer } from '../core/clock.js';

/** Why run() stopped without main's outcome. Named codes: they end up in campaign reports verbatim. */
export type SimulationErrorKind =
  /** main still waits and no event is left to run (only held events of stopped owners, if any). */
  | 'DEADLOCK'
  /** The next event is past limits.simMsMax. */
  | 'SIM_MS_MAX'
  /** limits.eventsMax events have run and main still waits. */
  | 'EVENTS_MAX'
  /** More events were waiting at once than the scheduler allows: something schedules without bound. */
  | 'PENDING_EVENTS_MAX';

export class SimulationError extends Error {
  override readonly name = 'SimulationError';
  constructor(
    readonly kind: SimulationErrorKind,
    /** Simulated time when it stopped, ms. */
    readonly atMs: number,
    message: string,
  ) {
    super(message);
  }
}

export interface SimRunLimits {
  /** Simulated time the run may reach, ms: an event due later ends the run with SIM_MS_MAX. */
  readonly simMsMax: number;
  /** Events this run may execute (cancelled and stalled ones not counted). */
  readonly eventsMax: number;
}

/** Farthest ahead an event may be scheduled, ms: a bug guard (nothing here waits a simulated hour). */
export const SCHEDULE_AHEAD_MS_MAX = 3_600_000;
/** Most events that may wait at once (in the queue and held for stopped owners, cancelled ones included). */
export const PENDING_EVENTS_MAX = 1_000_000;
/**
 * Events run per turn of Node's event loop (each from its own immediate callback): bounds how
 * long real I/O outside the simulation (a test runner's messages) waits, about a millisecond.
 */
const STEPS_PER_TURN = 256;
/** Stall windows one scheduler accepts. */
export const STALL_WINDOWS_MAX = 100_000;

interface SimEvent {
  /** When it runs: its due time, or the end of a stall of its owner. */
  atMs: number;
  /** When it was due. Orders events released at one time after a stall as they were due. */
  readonly dueMs: number;
  readonly seq: number;
  readonly owner: string;
  readonly fn: () => void;
  cancelled: boolean;
}

interface StallWindow {
  readonly fromMs: number;
  readonly untilMs: number;
}

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

export interface SimSchedulerOptions {
  /** Events that may wait at once, 1..PENDING_EVENTS_MAX. Default PENDING_EVENTS_MAX. */
  readonly pendingEventsMax?: number;
}

export class SimScheduler {
  readonly #pendingEventsMax: number;
  #nowMs = 0;
  #seq = 0;
  #eventsRun = 0;
  #running = false;
  /** Set when PENDING_EVENTS_MAX was passed; run() stops at its next step. */
  #pendingOverflow = false;
  /** Binary min-heap in run order (see runsBefore). */
  readonly #heap: SimEvent[] = [];
  readonly #windows = new Map<string, StallWindow[]>();
  #windowCount = 0;
  /** Owners stopped until resume(), with their events that came due meanwhile, in run order. */
  readonly #held = new Map<string, SimEvent[]>();
  #heldCount = 0;
  readonly #clocks = new Map<string, Clock>();

  constructor(options: SimSchedulerOptions = {}) {
    this.#pendingEventsMax = options.pendingEventsMax ?? PENDING_EVENTS_MAX;
    assert(Number.isInteger(this.#pendingEventsMax) && this.#pendingEventsMax >= 1 && this.#pendingEventsMax <= PENDING_EVENTS_MAX, `pendingEventsMax ${options.pendingEventsMax}`);
  }

  /** Simulated time, ms: the time of the event running now (or of the last one). */
  get nowMs(): number {
    return this.#nowMs;
  }

  /** Events executed since the scheduler was made. */
  get eventsRun(): number {
    return this.#eventsRun;
  }

  /** Events waiting (cancelled ones not yet discarded included), held ones too. */
  get pendingEvents(): number {
    return this.#heap.length + this.#heldCount;
  }

  /** Runs `fn` as an event of `owner` at `atMs` (now or later): after every event already due then. */
  schedule(owner: string, atMs: number, fn: () => void): Timer {
    const nowMs = this.#nowMs;
    if (!(atMs >= nowMs && atMs - nowMs <= SCHEDULE_AHEAD_MS_MAX)) {
      fail(`event of '${owner}' at ${atMs} ms scheduled at ${nowMs} ms: in the past, not a number, or over ${SCHEDULE_AHEAD_MS_MAX} ms ahead`);
    }
    const event: SimEvent = { atMs, dueMs: atMs, seq: this.#seq++, owner, fn, cancelled: false };
    this.#push(event);
    if (this.pendingEvents > this.#pendingEventsMax) this.#pendingOverflow = true;
    return { cancel: () => void (event.cancelled = true) };
  }

  /**
   * `owner` does nothing in [fromMs, untilMs): its events due then run at untilMs, in the order they
   * were due. Windows may overlap and may be added at any time (a window already past does nothing).
   */
  stall(owner: string, fromMs: number, untilMs: number): void {
    assert(Number.isFinite(fromMs) && Number.isFinite(untilMs) && fromMs >= 0 && untilMs >= fromMs, `stall of '${owner}' from ${fromMs} to ${untilMs} ms: not a window forward from 0`);
    assert(untilMs - fromMs <= SCHEDULE_AHEAD_MS_MAX, `stall of '${owner}' longer than ${SCHEDULE_AHEAD_MS_MAX} ms`);
    assert(this.#windowCount < STALL_WINDOWS_MAX, `more than ${STALL_WINDOWS_MAX} stall windows`);
    const list = this.#windows.get(owner);
    if (list === undefined) this.#windows.set(owner, [{ fromMs, untilMs }]);
    else list.push({ fromMs, untilMs });
    this.#windowCount++;
  }

  /** Stops `owner` now (SIGSTOP): its events wait until resume(). Stopping a stopped owner does nothing. */
  stallOpen(owner: string): void {
    if (!this.#held.has(owner)) this.#held.set(owner, []);
  }

  /** Continues `owner` (SIGCONT): its events that came due meanwhile run now, in their order. */
  resume(owner: string): void {
    const held = this.#held.get(owner);
    if (held === undefined) return;
    this.#held.delete(owner);
    this.#heldCount -= held.length;
    for (const event of held) {
      if (event.cancelled) continue;
      event.atMs = this.#nowMs;
      this.#push(event);
    }
  }

  isStopped(owner: string): boolean {
    return this.#held.has(owner);
  }

  /** The Clock of one simulated process: its timers, defers, sleeps and deadlines are its events. */
  clockFor(owner: string): Clock {
    assert(owner.length > 0, 'an owner has a name');
    let clock = this.#clocks.get(owner);
    if (clock === undefined) {
      clock = this.#makeClock(owner);
      this.#clocks.set(owner, clock);
    }
    return clock;
  }

  #makeClock(owner: string): Clock {
    const after = (delayMs: number, fn: () => void): Timer => this.schedule(owner, this.#nowMs + Math.max(0, delayMs), fn);
    return {
      nowMs: () => this.#nowMs,
      setTimer: after,
      setRepeating: (periodMs, fn) => {
        assert(periodMs > 0 && periodMs <= SCHEDULE_AHEAD_MS_MAX, `repeating timer of '${owner}' with period ${periodMs} ms`);
        let cancelled = false;
        let next: Timer;
        const tick = (): void => {
          // Rescheduled first, so fn may cancel the timer it runs from.
          next = after(periodMs, tick);
          fn();
        };
        next = after(periodMs, tick);
        return {
          cancel: () => {
            if (cancelled) return;
            cancelled = true;
            next.cancel();
          },
        };
      },
      defer: (fn) => after(0, fn),
      sleepUntil: (atMs) => {
        assert(Number.isFinite(atMs), `'${owner}' sleeps until ${atMs} ms`);
        return new Promise<void>((resolve) => void this.schedule(owner, Math.max(atMs, this.#nowMs), resolve));
      },
      armDeadline: (atMs, onExpired) => {
        assert(Number.isFinite(atMs), `'${owner}' arms a deadline at ${atMs} ms`);
        // At the deadline one more turn, as the real one drains event-loop turns: deliveries due
        // at that very time (scheduled after the deadline was armed) run first.
        let drain: Timer | null = null;
        const expiry = this.schedule(owner, Math.max(atMs, this.#nowMs), () => (drain = after(0, onExpired)));
        return {
          cancel: () => {
            expiry.cancel();
            drain?.cancel();
          },
        };
      },
    };
  }

  /**
   * Runs `main` to its end in simulated time and returns (or throws) what it does. Loop: let every
   * promise continuation settle; if main has settled, done; else run the next event. Throws a
   * SimulationError when main still waits and no event is left (DEADLOCK), or past a limit. An
   * exception thrown by an event ends the run with that exception (as an uncaught exception in a
   * timer ends a process). Events still pending when main ends stay queued for a later run().
   */
  run<T>(main: () => Promise<T>, limits: SimRunLimits): Promise<T> {
    assert(!this.#running, 'SimScheduler.run while it runs');
    assert(limits.simMsMax >= 0 && Number.isFinite(limits.simMsMax), `simMsMax ${limits.simMsMax}`);
    assert(Number.isSafeInteger(limits.eventsMax) && limits.eventsMax >= 0, `eventsMax ${limits.eventsMax}`);
    this.#running = true;
    const eventsMax = this.#eventsRun + limits.eventsMax;
    return new Promise<T>((resolve, reject) => {
      let outcome: Outcome<T> | null = null;
      let ended = false;
      const end = (result: Outcome<T>): void => {
        ended = true;
        this.#running = false;
        if (result.ok) resolve(result.value);
        else reject(result.error);
      };
      try {
        main().then(
          (value) => void (outcome = { ok: true, value }),
          (error: unknown) => void (outcome = { ok: false, error }),
        );
      } catch (error) {
        end({ ok: false, error });
        return;
      }
      // Each step is its own immediate callback, so every continuation of the previous event has
      // run when it starts (see the header); STEPS_PER_TURN of them are queued per turn.
      let stepsQueued = 0;
      const step = (): void => {
        stepsQueued--;
        if (ended) return;
        if (outcome !== null) {
          end(outcome);
          return;
        }
        try {
          const event = this.#nextRunnable(limits.simMsMax, eventsMax);
          this.#nowMs = event.atMs;
          this.#eventsRun++;
          event.fn();
        } catch (error) {
          end({ ok: false, error });
          return;
        }
        if (stepsQueued === 0) queueTurn();
      };
      const queueTurn = (): void => {
        for (let i = 0; i < STEPS_PER_TURN; i++) setImmediate(step);
        stepsQueued = STEPS_PER_TURN;
      };
      queueTurn();
    });
  }

  /** The next event to run, past cancelled ones and those of stalled owners; throws at a limit. */
  #nextRunnable(simMsMax: number, eventsMax: number): SimEvent {
    if (this.#pendingOverflow) {
      throw new SimulationError('PENDING_EVENTS_MAX', this.#nowMs, `the simulation passed ${this.#pendingEventsMax} waiting events at ${this.#nowMs.toFixed(3)} ms`);
    }
    // Bounded: each pass takes an event off the queue for good (cancelled, or held for a stopped
    // owner), or moves it to the end of a stall window strictly after its time (once per window).
    for (;;) {
      const event = this.#pop();
      if (event === undefined) throw this.#deadlock();
      if (event.cancelled) continue;
      const held = this.#held.get(event.owner);
      if (held !== undefined) {
        held.push(event);
        this.#heldCount++;
        continue;
      }
      const untilMs = this.#stallEnd(event.owner, event.atMs);
      if (untilMs !== null) {
        event.atMs = untilMs;
        this.#push(event);
        continue;
      }
      if (event.atMs > simMsMax) {
        this.#push(event);
        throw new SimulationError('SIM_MS_MAX', this.#nowMs, `the simulation passed its limit of ${simMsMax} ms of simulated time (next event at ${event.atMs.toFixed(3)} ms)`);
      }
      if (this.#eventsRun >= eventsMax) {
        this.#push(event);
        throw new SimulationError('EVENTS_MAX', this.#nowMs, `the simulation passed its limit of events (${this.#eventsRun} run) at ${this.#nowMs.toFixed(3)} ms`);
      }
      return event;
    }
  }

  #deadlock(): SimulationError {
    const held = [...this.#held].filter(([, events]) => events.some((e) => !e.cancelled)).map(([owner, events]) => `'${owner}' (${events.length})`);
    const note = held.length === 0 ? '' : `; events held for stopped ${held.join(', ')}`;
    return new SimulationError('DEADLOCK', this.#nowMs, `the simulation deadlocked at ${this.#nowMs.toFixed(3)} ms: main still waits and no event is left to run${note}`);
  }

  /** End of a stall window of `owner` holding `atMs`, or null. */
  #stallEnd(owner: string, atMs: number): number | null {
    const list = this.#windows.get(owner);
    if (list === undefined) return null;
    for (const w of list) if (atMs >= w.fromMs && atMs < w.untilMs) return w.untilMs;
    return null;
  }

  #push(event: SimEvent): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(event);
    // Bounded by the heap's depth.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!runsBefore(event, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
  }

  #pop(): SimEvent | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    const size = heap.length;
    let i = 0;
    // Bounded by the heap's depth.
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && runsBefore(heap[r]!, heap[l]!) ? r : l;
      const child = heap[c]!;
      if (!runsBefore(child, last)) break;
      heap[i] = child;
      i = c;
    }
    heap[i] = last;
    return top;
  }
}

/** Run order: time, then due time (only differs after a stall), then scheduling order. */
function runsBefore(a: SimEvent, b: SimEvent): boolean {
  if (a.atMs !== b.atMs) return a.atMs < b.atMs;
  if (a.dueMs !== b.dueMs) return a.dueMs < b.dueMs;
  return a.seq < b.seq;
}
