/**
 * The discrete-event scheduler (src/sim/sim-clock.ts): run order against an independent oracle,
 * the Clock it gives each owner, stalls (windows and SIGSTOP … SIGCONT), an async main in
 * simulated time, and the run's named errors. Every expectation is an exact simulated time.
 */
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import { Prng } from '../../src/core/prng.js';
import { SimScheduler, SimulationError, type SimulationErrorKind } from '../../src/sim/sim-clock.js';
import { advanceTo } from '../helpers/sim-time.js';

const LIMITS = { simMsMax: 1_000_000, eventsMax: 1_000_000 };

/** What run() threw, checked to be a SimulationError of `kind`. */
async function simulationError(run: Promise<unknown>, kind: SimulationErrorKind): Promise<SimulationError> {
  const error = await run.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, `expected a ${kind} SimulationError`).toBeInstanceOf(SimulationError);
  expect((error as SimulationError).kind).toBe(kind);
  return error as SimulationError;
}

describe('run order', () => {
  it('runs events in (time, scheduling order): random schedules against a sort', async () => {
    const prng = new Prng(7);
    for (let round = 0; round < 20; round++) {
      const scheduler = new SimScheduler();
      const log: string[] = [];
      // Each event logs itself; some schedule more events (at their own time or later) when they run.
      const expected: { atMs: number; seq: number; id: string }[] = [];
      let seq = 0;
      const add = (atMs: number, id: string, children: number): void => {
        const mySeq = seq++;
        expected.push({ atMs, seq: mySeq, id });
        scheduler.schedule(`owner ${prng.nextBelow(3)}`, atMs, () => {
          log.push(`${id}@${scheduler.nowMs}`);
          for (let c = 0; c < children; c++) add(scheduler.nowMs + prng.nextBelow(3), `${id}.${c}`, 0);
        });
      };
      for (let i = 0; i < 60; i++) add(prng.nextBelow(20), `e${i}`, prng.nextBelow(3));
      await advanceTo(scheduler, 100, LIMITS);
      // The oracle: every event, sorted by time then by when it was scheduled.
      const oracle = [...expected].sort((a, b) => a.atMs - b.atMs || a.seq - b.seq).map((e) => `${e.id}@${e.atMs}`);
      expect(log).toEqual(oracle);
      expect(new Set(expected.map((e) => e.atMs)).size, 'test bug: too few distinct times to show an order').toBeGreaterThan(10);
    }
  });

  it('the same seed gives the same run, a different seed another', async () => {
    const trace = async (seed: number): Promise<string> => {
      const scheduler = new SimScheduler();
      const prng = new Prng(seed);
      const log: string[] = [];
      for (let i = 0; i < 200; i++) {
        const owner = `replica ${prng.nextBelow(3)}`;
        scheduler.clockFor(owner).setTimer(prng.nextBelow(1000) / 8, () => log.push(`${i} ${owner} ${scheduler.nowMs}`));
      }
      scheduler.stall('replica 1', 20, 60);
      await advanceTo(scheduler, 200, LIMITS);
      return log.join('\n');
    };
    expect(await trace(3)).toBe(await trace(3));
    expect(await trace(3)).not.toBe(await trace(4));
  });

  it('an event scheduled at the current time runs after those already due then', async () => {
    const scheduler = new SimScheduler();
    const log: string[] = [];
    scheduler.schedule('a', 5, () => {
      log.push('first');
      scheduler.schedule('a', 5, () => log.push('scheduled by first'));
    });
    scheduler.schedule('b', 5, () => log.push('second'));
    await advanceTo(scheduler, 10, LIMITS);
    expect(log).toEqual(['first', 'second', 'scheduled by first']);
  });

  it('refuses (assertion) an event in the past, at NaN, or over an hour ahead', async () => {
    const scheduler = new SimScheduler();
    await advanceTo(scheduler, 10, LIMITS);
    expect(() => scheduler.schedule('a', 9, () => {})).toThrow(TmrAssertionError);
    expect(() => scheduler.schedule('a', Number.NaN, () => {})).toThrow(TmrAssertionError);
    expect(() => scheduler.schedule('a', 10 + 3_600_001, () => {})).toThrow(TmrAssertionError);
    expect(() => scheduler.schedule('a', 10, () => {})).not.toThrow();
  });
});

describe('the Clock of an owner', () => {
  it('setTimer fires once at now + delay (a negative delay is now); cancel stops it', async () => {
    const scheduler = new SimScheduler();
    const clock = scheduler.clockFor('host');
    const log: string[] = [];
    clock.setTimer(7.5, () => log.push(`a@${clock.nowMs()}`));
    clock.setTimer(-3, () => log.push(`b@${clock.nowMs()}`));
    clock.setTimer(2, () => log.push(`c@${clock.nowMs()}`)).cancel();
    await advanceTo(scheduler, 100, LIMITS);
    expect(log).toEqual(['b@0', 'a@7.5']);
    expect(scheduler.clockFor('host')).toBe(clock);
  });

  it('setRepeating fires every period until cancelled, also from inside its own callback', async () => {
    const scheduler = new SimScheduler();
    const clock = scheduler.clockFor('host');
    const times: number[] = [];
    const timer = clock.setRepeating(10, () => {
      times.push(clock.nowMs());
      if (times.length === 4) timer.cancel();
    });
    const outside: number[] = [];
    const other = clock.setRepeating(25, () => outside.push(clock.nowMs()));
    clock.setTimer(80, () => other.cancel());
    await advanceTo(scheduler, 200, LIMITS);
    expect(times).toEqual([10, 20, 30, 40]);
    expect(outside).toEqual([25, 50, 75]);
    expect(scheduler.pendingEvents, 'a cancelled repeating timer leaves at most its own dead event').toBeLessThanOrEqual(2);
  });

  it('defer runs at the current time after everything already scheduled then', async () => {
    const scheduler = new SimScheduler();
    const clock = scheduler.clockFor('host');
    const log: string[] = [];
    scheduler.schedule('replica 0', 5, () => {
      clock.defer(() => log.push(`defer@${clock.nowMs()}`));
      log.push('A');
    });
    scheduler.schedule('replica 1', 5, () => log.push('B'));
    await advanceTo(scheduler, 10, LIMITS);
    expect(log).toEqual(['A', 'B', 'defer@5']);
  });

  it('armDeadline fires at its time after deliveries due then, even ones scheduled later; cancel stops it', async () => {
    const scheduler = new SimScheduler();
    const clock = scheduler.clockFor('host');
    const log: string[] = [];
    clock.armDeadline(10, () => log.push(`deadline@${clock.nowMs()}`));
    // A delivery due at the deadline, scheduled after it was armed.
    scheduler.schedule('host', 3, () => scheduler.schedule('host', 10, () => log.push('reply@10')));
    clock.armDeadline(12, () => log.push('cancelled deadline')).cancel();
    // Cancelled by a delivery due at its time (scheduled after it was armed): between its expiry
    // and its extra turn, as a reply read in the real one's drain turns.
    const late = clock.armDeadline(15, () => log.push('cancelled in its drain turn'));
    scheduler.schedule('host', 15, () => late.cancel());
    // A deadline already past fires at once (after one turn).
    scheduler.schedule('host', 20, () => clock.armDeadline(1, () => log.push(`past deadline@${clock.nowMs()}`)));
    await advanceTo(scheduler, 50, LIMITS);
    expect(log).toEqual(['reply@10', 'deadline@10', 'past deadline@20']);
  });
});

describe('between two events', () => {
  it('drains every promise continuation and nextTick between two events (1,000 events, past a turn\'s batch)', async () => {
    const scheduler = new SimScheduler();
    const prng = new Prng(99);
    const clock = scheduler.clockFor('host');
    const unfinished: number[] = [];
    let running: number | null = null;
    let chainsDone = 0;
    /** A chain of `depth` hops, each an await, a queueMicrotask or a process.nextTick. */
    const chain = async (depth: number): Promise<void> => {
      for (let hop = 0; hop < depth; hop++) {
        const kind = prng.nextBelow(3);
        if (kind === 0) await Promise.resolve();
        else if (kind === 1) await new Promise<void>((resolve) => queueMicrotask(resolve));
        else await new Promise<void>((resolve) => process.nextTick(resolve));
      }
    };
    for (let i = 0; i < 1_000; i++) {
      // Half of them at one time: equal times must drain too.
      clock.setTimer(i < 500 ? 1 : i, () => {
        if (running !== null) unfinished.push(running);
        running = i;
        void chain(1 + prng.nextBelow(40)).then(() => {
          running = null;
          chainsDone++;
        });
      });
    }
    await advanceTo(scheduler, 2_000, LIMITS);
    expect(unfinished, 'events that started before the previous event\'s continuations had run').toEqual([]);
    expect(chainsDone).toBe(1_000);
  });
});

describe('an async main in simulated time', () => {
  it('sees the simulated times of its sleeps, deadlines and defers, and awaits cost no time', async () => {
    const scheduler = new SimScheduler();
    const clock = scheduler.clockFor('host');
    const seen: string[] = [];
    const result = await scheduler.run(async () => {
      seen.push(`start@${clock.nowMs()}`);
      await Promise.resolve();
      await clock.sleepUntil(12.25);
      seen.push(`slept@${clock.nowMs()}`);
      await clock.sleepUntil(3);
      seen.push(`past sleep@${clock.nowMs()}`);
      const expiredAt = await new Promise<number>((resolve) => clock.armDeadline(clock.nowMs() + 5, () => resolve(clock.nowMs())));
      seen.push(`deadline@${expiredAt}`);
      await new Promise<void>((resolve) => clock.defer(resolve));
      seen.push(`deferred@${clock.nowMs()}`);
      // A reply that comes before the deadline ends the wait; the deadline is cancelled.
      const outcome = await new Promise<string>((resolve) => {
        const deadline = clock.armDeadline(clock.nowMs() + 10, () => resolve('expired'));
        clock.setTimer(4, () => {
          deadline.cancel();
          resolve(`reply@${clock.nowMs()}`);
        });
      });
      seen.push(outcome);
      await clock.sleepUntil(clock.nowMs() + 20);
      return clock.nowMs();
    }, LIMITS);
    expect(seen).toEqual(['start@0', 'slept@12.25', 'past sleep@12.25', 'deadline@17.25', 'deferred@17.25', 'reply@21.25']);
    expect(result).toBe(41.25);
  });

  it('two async processes interleave by simulated time', async () => {
    const scheduler = new SimScheduler();
    const log: string[] = [];
    const process = async (owner: string, periodMs: number, count: number): Promise<void> => {
      const clock = scheduler.clockFor(owner);
      for (let i = 1; i <= count; i++) {
        await clock.sleepUntil(i * periodMs);
        log.push(`${owner}@${clock.nowMs()}`);
      }
    };
    await scheduler.run(() => Promise.all([process('a', 3, 4), process('b', 5, 2)]), LIMITS);
    expect(log).toEqual(['a@3', 'b@5', 'a@6', 'a@9', 'b@10', 'a@12']);
  });

  it('returns what main returns and rethrows what it throws, or what an event throws', async () => {
    const scheduler = new SimScheduler();
    expect(await scheduler.run(async () => 42, LIMITS)).toBe(42);
    const mainError = new Error('main failed');
    await expect(
      scheduler.run(async () => {
        await scheduler.clockFor('host').sleepUntil(5);
        throw mainError;
      }, LIMITS),
    ).rejects.toBe(mainError);
    const eventError = new Error('a timer failed');
    scheduler.clockFor('host').setTimer(1, () => {
      throw eventError;
    });
    await expect(advanceTo(scheduler, 100, LIMITS)).rejects.toBe(eventError);
    // Not left running: the next run works.
    await advanceTo(scheduler, 200, LIMITS);
    expect(scheduler.nowMs).toBe(200);
  });
});

describe('stalls', () => {
  it('a window holds its owner\'s events to its end, in the order they were due, before events due only then', async () => {
    const scheduler = new SimScheduler();
    const log: string[] = [];
    const at = (owner: string, atMs: number, id: string): void => void scheduler.schedule(owner, atMs, () => log.push(`${id}@${scheduler.nowMs}`));
    scheduler.stall('host', 10, 20);
    // Scheduled out of time order on purpose: the one due at the window's end first.
    at('host', 20, 'h20');
    at('host', 15, 'h15');
    at('host', 10, 'h10');
    at('host', 15, 'h15b');
    at('host', 9, 'h9');
    at('replica 0', 12, 'r12');
    at('replica 0', 20, 'r20');
    await advanceTo(scheduler, 30, LIMITS);
    expect(log).toEqual(['h9@9', 'r12@12', 'h10@20', 'h15@20', 'h15b@20', 'h20@20', 'r20@20']);
  });

  it('a held timer can still be cancelled, and overlapping windows chain', async () => {
    const scheduler = new SimScheduler();
    const clock = scheduler.clockFor('host');
    const log: string[] = [];
    scheduler.stall('host', 5, 10);
    scheduler.stall('host', 8, 30);
    const held = clock.setTimer(6, () => log.push('cancelled one'));
    clock.setTimer(7, () => log.push(`kept@${clock.nowMs()}`));
    // Cancelled after the scheduler moved it to the end of the first window.
    scheduler.schedule('replica 0', 12, () => held.cancel());
    await advanceTo(scheduler, 40, LIMITS);
    expect(log).toEqual(['kept@30']);
  });

  it('a host stall delays its sleeps and timers; time reads the true time when it runs again', async () => {
    const scheduler = new SimScheduler();
    scheduler.stall('host', 4, 25);
    const clock = scheduler.clockFor('host');
    const woke: number[] = [];
    await scheduler.run(async () => {
      for (let i = 1; i <= 4; i++) {
        await clock.sleepUntil(i * 3);
        woke.push(clock.nowMs());
      }
    }, LIMITS);
    expect(woke).toEqual([3, 25, 25, 25]);
  });

  it('stallOpen holds events until resume, then runs them at the resume time in order; cancelled ones never', async () => {
    const scheduler = new SimScheduler();
    const replica = scheduler.clockFor('replica 1');
    const log: string[] = [];
    scheduler.schedule('host', 5, () => scheduler.stallOpen('replica 1'));
    replica.setTimer(8, () => log.push(`r8@${replica.nowMs()}`));
    const cancelled = replica.setTimer(9, () => log.push('cancelled'));
    replica.setTimer(6, () => log.push(`r6@${replica.nowMs()}`));
    replica.setTimer(3, () => log.push(`r3@${replica.nowMs()}`));
    scheduler.schedule('host', 10, () => {
      expect(scheduler.isStopped('replica 1')).toBe(true);
      cancelled.cancel();
    });
    scheduler.schedule('host', 7, () => log.push('host@7'));
    scheduler.schedule('host', 40, () => scheduler.resume('replica 1'));
    scheduler.schedule('host', 40, () => log.push('host@40 scheduled before the resume'));
    await advanceTo(scheduler, 50, LIMITS);
    expect(log).toEqual(['r3@3', 'host@7', 'r6@40', 'r8@40', 'host@40 scheduled before the resume']);
    expect(scheduler.isStopped('replica 1')).toBe(false);
  });

  it('a main waiting on a stopped owner that never resumes is a deadlock that names it', async () => {
    const scheduler = new SimScheduler();
    scheduler.stallOpen('replica 2');
    const error = await simulationError(
      scheduler.run(() => new Promise<void>((resolve) => scheduler.clockFor('replica 2').setTimer(5, resolve)), LIMITS),
      'DEADLOCK',
    );
    expect(error.message).toMatch(/deadlocked at 0\.000 ms/);
    expect(error.message).toMatch(/'replica 2' \(1\)/);
  });
});

describe('run errors', () => {
  it('a main waiting on nothing that can happen: deadlock at the time it happened', async () => {
    const scheduler = new SimScheduler();
    const clock = scheduler.clockFor('host');
    const error = await simulationError(
      scheduler.run(async () => {
        await clock.sleepUntil(17);
        await new Promise(() => {});
      }, LIMITS),
      'DEADLOCK',
    );
    expect(error.message).toMatch(/deadlocked at 17\.000 ms/);
    expect(error.atMs).toBe(17);
  });

  it('a main waiting on real time is a deadlock too (no real timer runs inside the simulation)', async () => {
    const scheduler = new SimScheduler();
    await simulationError(
      scheduler.run(() => new Promise<void>((resolve) => setTimeout(resolve, 50)), LIMITS),
      'DEADLOCK',
    );
  });

  it('stops past simMsMax without running the late event', async () => {
    const scheduler = new SimScheduler();
    const clock = scheduler.clockFor('host');
    const times: number[] = [];
    clock.setRepeating(10, () => times.push(clock.nowMs()));
    const error = await simulationError(
      scheduler.run(() => new Promise<void>(() => {}), { simMsMax: 35, eventsMax: 1_000 }),
      'SIM_MS_MAX',
    );
    expect(times).toEqual([10, 20, 30]);
    expect(scheduler.nowMs).toBe(30);
    expect(error.message).toMatch(/limit of 35 ms/);
  });

  it('stops after eventsMax events of one run, even when time stands still', async () => {
    const scheduler = new SimScheduler();
    const clock = scheduler.clockFor('host');
    let ran = 0;
    const again = (): void => {
      ran++;
      clock.defer(again);
    };
    clock.defer(again);
    await simulationError(
      scheduler.run(() => new Promise<void>(() => {}), { simMsMax: 1_000, eventsMax: 500 }),
      'EVENTS_MAX',
    );
    expect(ran).toBe(500);
    expect(scheduler.nowMs).toBe(0);
  });

  it('stops when more events wait at once than the scheduler allows', async () => {
    const scheduler = new SimScheduler({ pendingEventsMax: 100 });
    const clock = scheduler.clockFor('host');
    // Each event schedules two: the queue doubles until it passes the bound.
    const fork = (): void => {
      clock.setTimer(1, fork);
      clock.setTimer(1, fork);
    };
    clock.setTimer(1, fork);
    const error = await simulationError(scheduler.run(() => new Promise<void>(() => {}), LIMITS), 'PENDING_EVENTS_MAX');
    expect(error.message).toMatch(/passed 100 waiting events/);
    expect(scheduler.pendingEvents).toBeGreaterThan(100);
    expect(scheduler.pendingEvents).toBeLessThanOrEqual(102);
    expect(() => new SimScheduler({ pendingEventsMax: 0 })).toThrow(TmrAssertionError);
  });

  it('refuses a second run while one runs', async () => {
    const scheduler = new SimScheduler();
    const first = advanceTo(scheduler, 10, LIMITS);
    expect(() => scheduler.run(async () => 0, LIMITS)).toThrow(TmrAssertionError);
    await first;
  });
});
