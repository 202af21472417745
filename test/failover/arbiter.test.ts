/**
 * The actuator's selection between voters (src/failover/arbiter.ts) and the checker over its log
 * (src/failover/checker.ts): takeover after a bounded silence, fencing of every older epoch, and,
 * over random schedules of voters that die, stall, come back, replay and claim what they like,
 * a log the checker finds nothing in; a broken selection is caught, naming the tick.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Arbiter, type ArbiterLogEntry, type OfferedCommand } from '../../src/failover/arbiter.js';
import { checkActuatorLog } from '../../src/failover/checker.js';

const K = 4;

function arbiter(silentTicksMax = K): { a: Arbiter; log: ArbiterLogEntry[] } {
  const log: ArbiterLogEntry[] = [];
  return { a: new Arbiter({ silentTicksMax, log: (e) => log.push(e) }), log };
}

const cmd = (voterId: number, epoch: number, tick: number, primary: boolean): OfferedCommand => ({ voterId, epoch, tick, primary, commands: [tick * 10 + voterId] });

describe('the arbiter', () => {
  it('follows the primary, ignores the standby while the primary speaks, and takes the standby after K silent ticks', () => {
    const { a, log } = arbiter();
    // Primary epoch 10 (voter 1), standby epoch 20 (voter 2), both command ticks 0..9.
    for (let t = 0; t < 10; t++) {
      expect(a.offer(cmd(1, 10, t, true))).toBeNull();
      expect(a.offer(cmd(2, 20, t, false))).toBeNull();
      expect(a.decide()).toMatchObject({ voterId: 1, tick: t });
    }
    // The primary dies: only the standby speaks. K-1 silent ticks, then the standby's command.
    const applied: (OfferedCommand | null)[] = [];
    for (let t = 10; t < 20; t++) {
      a.offer(cmd(2, 20, t, false));
      applied.push(a.decide());
    }
    expect(applied.slice(0, K - 1)).toEqual(Array(K - 1).fill(null));
    expect(applied[K - 1]).toMatchObject({ voterId: 2, epoch: 20, tick: 10 + K - 1 });
    expect(a.epoch).toBe(20);
    // From then on the standby's commands are followed at each tick, as a primary's are.
    expect(applied.slice(K)).toEqual(Array.from({ length: 10 - K }, (_, i) => expect.objectContaining({ voterId: 2, tick: 10 + K + i })));
    // The old primary comes back (SIGCONT): every one of its commands is refused, counted.
    for (let t = 20; t < 25; t++) expect(a.offer(cmd(1, 10, t, true))).toBe('STALE_EPOCH');
    expect(a.counters).toMatchObject({ refusedStale: 5, takeovers: 1 });
    const check = checkActuatorLog(log, { gapTicksMax: K - 1 });
    expect(check.violations).toEqual([]);
    expect(check.longestGapTicks).toBe(K - 1);
    expect(check.epochChanges).toEqual([
      { actuatorTick: 0, from: 0, to: 10, why: 'NEWER_PRIMARY' },
      { actuatorTick: 10 + K - 1, from: 10, to: 20, why: 'TAKEOVER' },
    ]);
  });

  it('before any epoch is followed it waits startupSilentTicksMax for a primary, then takes a standby', () => {
    const log: ArbiterLogEntry[] = [];
    const a = new Arbiter({ silentTicksMax: K, startupSilentTicksMax: 3 * K, log: (e) => log.push(e) });
    // Only a standby speaks at first: no takeover after K ticks, only after 3K.
    const applied: (OfferedCommand | null)[] = [];
    for (let t = 0; t < 3 * K; t++) {
      a.offer(cmd(2, 20, t, false));
      applied.push(a.decide());
    }
    expect(applied.slice(0, 3 * K - 1)).toEqual(Array(3 * K - 1).fill(null));
    expect(applied[3 * K - 1]).toMatchObject({ epoch: 20, tick: 3 * K - 1 });
    // A primary that comes first within the grace is followed, and the standby is not taken.
    const b = new Arbiter({ silentTicksMax: K, startupSilentTicksMax: 3 * K });
    for (let t = 0; t < 2 * K; t++) {
      b.offer(cmd(2, 20, t, false));
      expect(b.decide()).toBeNull();
    }
    b.offer(cmd(1, 10, 2 * K, true));
    expect(b.decide()).toMatchObject({ epoch: 10 });
    expect(() => new Arbiter({ silentTicksMax: K, startupSilentTicksMax: K - 1 })).toThrow(/startupSilentTicksMax/);
  });

  it('a newer primary supersedes the current one at once; the older is fenced', () => {
    const { a } = arbiter();
    a.offer(cmd(1, 10, 0, true));
    expect(a.decide()).toMatchObject({ epoch: 10 });
    a.offer(cmd(2, 30, 1, true));
    expect(a.offer(cmd(1, 10, 2, true))).toBe('STALE_EPOCH');
    expect(a.decide()).toMatchObject({ epoch: 30, tick: 1 });
    expect(a.counters.newerPrimaries).toBe(2);
  });

  it('takes the next in the election order: the lowest newer epoch among the standbys', () => {
    const { a } = arbiter(1);
    a.offer(cmd(1, 10, 0, true));
    a.decide();
    a.offer(cmd(3, 40, 1, false));
    a.offer(cmd(2, 25, 1, false));
    expect(a.decide()).toMatchObject({ voterId: 2, epoch: 25 });
    expect(a.offer(cmd(3, 40, 2, false))).toBeNull();
  });

  it('refuses a tick that is not newer than the last applied one, within an epoch and across a takeover', () => {
    const { a } = arbiter(1);
    a.offer(cmd(1, 10, 5, true));
    a.decide();
    expect(a.offer(cmd(1, 10, 5, true))).toBe('NOT_NEWER');
    expect(a.offer(cmd(1, 10, 4, true))).toBe('NOT_NEWER');
    // A standby behind the primary is not taken for a tick already applied.
    a.offer(cmd(2, 20, 5, false));
    expect(a.decide()).toBeNull();
    a.offer(cmd(2, 20, 6, false));
    expect(a.decide()).toMatchObject({ epoch: 20, tick: 6 });
  });

  it('with nothing to take, stays silent: the actuator holds, and its own watchdog makes it safe', () => {
    const { a, log } = arbiter(2);
    a.offer(cmd(1, 10, 0, true));
    a.decide();
    for (let i = 0; i < 5; i++) expect(a.decide()).toBeNull();
    const check = checkActuatorLog(log, { gapTicksMax: 3 });
    expect(check.longestGapTicks).toBe(5);
    expect(check.violations.map((v) => v.kind)).toEqual(['GAP']);
  });
});

/** One voter's behaviour over a random schedule. */
interface VoterPlan {
  readonly epochStep: number;
  /** Actuator ticks at which it stops speaking, and for how long (a crash is forever). */
  readonly stopAt: number;
  readonly stopTicks: number;
  /** Whether it believes itself primary from the start, and ignores being fenced (a broken voter). */
  readonly claimsPrimary: boolean;
  /** Replays an old command every this many ticks (0: never). */
  readonly replayEvery: number;
  /** Lags the others by this many voter ticks. */
  readonly lagTicks: number;
}

const voterPlan = fc.record({
  epochStep: fc.integer({ min: 1, max: 50 }),
  stopAt: fc.integer({ min: 0, max: 120 }),
  stopTicks: fc.integer({ min: 0, max: 200 }),
  claimsPrimary: fc.boolean(),
  replayEvery: fc.integer({ min: 0, max: 7 }),
  lagTicks: fc.integer({ min: 0, max: 3 }),
});

/** Runs voters against an arbiter for `ticks` actuator ticks; returns the log. */
function simulate(plans: readonly VoterPlan[], ticks: number, silentTicksMax: number, order: readonly number[]): ArbiterLogEntry[] {
  const { a, log } = arbiter(silentTicksMax);
  let epoch = 0;
  const epochs = plans.map((p) => (epoch += p.epochStep));
  const sent: OfferedCommand[][] = plans.map(() => []);
  for (let t = 0; t < ticks; t++) {
    for (const i of order) {
      const p = plans[i]!;
      if (i >= plans.length) continue;
      const stopped = t >= p.stopAt && t < p.stopAt + p.stopTicks;
      if (stopped) continue;
      const command = cmd(i, epochs[i]!, Math.max(0, t - p.lagTicks), p.claimsPrimary);
      a.offer(command);
      sent[i]!.push(command);
      if (p.replayEvery > 0 && t % p.replayEvery === 0 && sent[i]!.length > 3) a.offer(sent[i]![sent[i]!.length - 3]!);
    }
    a.decide();
  }
  return log;
}

describe('the checker over random schedules', () => {
  it('finds nothing in the arbiter\'s log, whatever the voters do (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(voterPlan, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 10 }), fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }), (plans, k, shuffle) => {
        const order = [0, 1, 2, 3].sort((x, y) => (shuffle[x] as number) - (shuffle[y] as number));
        const log = simulate(plans, 300, k, order);
        const check = checkActuatorLog(log);
        expect(check.violations).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('catches a selection that takes whatever came last, naming the tick', () => {
    // What an actuator without epochs does: the last command of each tick wins.
    const log: ArbiterLogEntry[] = [
      { kind: 'applied', actuatorTick: 0, epoch: 10, voterId: 1, tick: 0, commands: [0] },
      { kind: 'applied', actuatorTick: 1, epoch: 20, voterId: 2, tick: 1, commands: [1] },
      { kind: 'applied', actuatorTick: 2, epoch: 10, voterId: 1, tick: 1, commands: [1] },
      { kind: 'silent', actuatorTick: 3, silentTicks: 1 },
      { kind: 'applied', actuatorTick: 4, epoch: 20, voterId: 2, tick: 0, commands: [0] },
    ];
    const check = checkActuatorLog(log, { gapTicksMax: 0 });
    expect(check.violations.map((v) => `${v.kind}@${v.actuatorTick}`)).toEqual(['SPLIT_TICK@2', 'EPOCH_REGRESSION@2', 'TICK_REGRESSION@2', 'SPLIT_TICK@4', 'TICK_REGRESSION@4', 'GAP@3']);
    expect(check.violations[0]!.detail).toBe('voter tick 1 applied under epoch 20 and again under epoch 10');
  });
});
