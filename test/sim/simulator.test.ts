import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FAULT_KINDS, type FaultKind } from '../../src/protocol/messages.js';
import { coreConfigFor, type FaultSpec, type LoopOptions } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { runSimulation } from '../../src/sim/simulator.js';

const TICKS = 600;
const BASE: LoopOptions = { ...DEFAULT_LOOP_OPTIONS, ticks: TICKS, rateHz: 200, seed: 42 };
const ONE_SHOT: readonly FaultKind[] = ['crash', 'state'];

/** Commands per tick, for comparing runs tick by tick. */
function commands(options: LoopOptions): { commands: number[]; summary: ReturnType<typeof runSimulation> } {
  const out: number[] = [];
  const summary = runSimulation(options, { onTick: (_, r) => out.push(r.commands[0]!) });
  return { commands: out, summary };
}

function replay(options: LoopOptions): string {
  const injects = options.injects.map((f) => `--inject ${f.kind}:${f.replicaIndex}@${f.startTick}${f.durationTicks ? `+${f.durationTicks}` : ''}`).join(' ');
  const limit = options.commonModeLimitMs === DEFAULT_LOOP_OPTIONS.commonModeLimitMs ? '' : ` --common-mode-limit-ms ${options.commonModeLimitMs}`;
  return `npx tmr sim --seed ${options.seed} --ticks ${options.ticks} --rate-hz ${options.rateHz} --replicas ${options.replicaCount}${limit} ${injects}`;
}

const faultArb = (replicaCount: number): fc.Arbitrary<FaultSpec> =>
  fc
    .record({
      kind: fc.constantFrom(...FAULT_KINDS),
      replicaIndex: fc.integer({ min: 0, max: replicaCount - 1 }),
      startTick: fc.integer({ min: 0, max: TICKS - 1 }),
      durationTicks: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: TICKS })),
    })
    .map((f) => (ONE_SHOT.includes(f.kind) ? { ...f, durationTicks: 0 } : f));

describe('deterministic simulation', () => {
  it('is a pure function of its options: two runs give identical summaries and command sequences', () => {
    const options = { ...BASE, injects: [{ kind: 'wrong', replicaIndex: 1, startTick: 100, durationTicks: 0 }] as FaultSpec[] };
    const a = commands(options);
    const b = commands(options);
    expect(b.commands).toEqual(a.commands);
    expect(b.summary).toEqual(a.summary);
  });

  it('different seeds give different sensor noise and so different traces', () => {
    const a = runSimulation({ ...BASE, seed: 1 });
    const b = runSimulation({ ...BASE, seed: 2 });
    expect(a.votedTraceHash).not.toBe(b.votedTraceHash);
  });

  it('the control loop actually tracks the setpoint (the hash is not of a dead loop)', () => {
    const s = runSimulation({ ...BASE, ticks: 2000 });
    expect(s.commands.voted).toBe(2000);
    expect(Math.abs(s.tracking.finalError)).toBeLessThan(5_000);
    expect(s.tracking.maxAbsError).toBeGreaterThan(10_000); // the profile has steps
  });

  it.each(FAULT_KINDS)('a persistent %s fault on one replica is masked, detected within 2 ticks, and excluded', (kind) => {
    const fault: FaultSpec = { kind, replicaIndex: 2, startTick: 200, durationTicks: 0 };
    const clean = commands(BASE);
    const faulty = commands({ ...BASE, injects: [fault] });
    expect(faulty.commands).toEqual(clean.commands);
    expect(faulty.summary.votedTraceHash).toBe(clean.summary.votedTraceHash);
    expect(faulty.summary.unsafeCommands).toBe(0);
    const record = faulty.summary.faults[0]!;
    expect(record.detectedTick, `${kind} not detected`).not.toBeNull();
    expect(record.detectionLatencyTicks!).toBeLessThanOrEqual(2);
    expect(faulty.summary.replicas[2]!.state).toBe('excluded');
    expect(faulty.summary.finalMode).toBe('duplex');
  });

  it('names the reason for each fault kind', () => {
    const expected: Record<FaultKind, string> = {
      crash: 'LINK_DOWN',
      hang: 'DEADLINE_MISSED',
      wrong: 'OUTPUT_DISAGREE',
      stuck: 'DIGEST_MISMATCH',
      late: 'LATE_REPLY',
      babble: 'PROTOCOL_ERROR',
      state: 'DIGEST_MISMATCH',
      bitflip: 'PROTOCOL_ERROR',
    };
    for (const kind of FAULT_KINDS) {
      const s = runSimulation({ ...BASE, injects: [{ kind, replicaIndex: 0, startTick: 300, durationTicks: 0 }] });
      expect(s.faults[0]!.reason, kind).toBe(expected[kind]);
    }
  });

  it('a one-tick transient does not exclude a healthy replica', () => {
    for (const kind of ['wrong', 'late', 'hang', 'babble', 'stuck'] as const) {
      const s = runSimulation({ ...BASE, injects: [{ kind, replicaIndex: 1, startTick: 300, durationTicks: 1 }] });
      expect(s.replicas[1]!.state, kind).toBe('inService');
      expect(s.finalMode).toBe('tmr');
    }
  });

  it('the quorum grace: a late survivor in duplex is voted, counted late and excluded by the detector, never a held command', () => {
    const crash: FaultSpec = { kind: 'crash', replicaIndex: 0, startTick: 100, durationTicks: 0 };
    const late: FaultSpec = { kind: 'late', replicaIndex: 1, startTick: 200, durationTicks: 0 };
    const onlyCrash = commands({ ...BASE, injects: [crash] });
    const both = commands({ ...BASE, injects: [crash, late] });
    // Its replies carry the law's command: up to its exclusion the commands are the duplex run's.
    const excludedAt = 200 + BASE.errorDensityLimit - 1;
    expect(both.commands.slice(0, excludedAt + 1)).toEqual(onlyCrash.commands.slice(0, excludedAt + 1));
    expect(both.summary.commands.held).toBe(0);
    expect(both.summary.lateReplies).toBe(BASE.errorDensityLimit);
    expect(both.summary.replicas[1]).toMatchObject({ state: 'excluded', reason: 'LATE_REPLY', excludedTick: excludedAt });
    // Excluded at the end of excludedAt, whose command was still voted in duplex: safe from the next tick.
    expect(both.summary.modeHistory.at(-1)).toMatchObject({ mode: 'safe', tick: excludedAt + 1 });
    expect(both.summary.commands.safe).toBe(TICKS - excludedAt - 1);
    expect(both.summary.unsafeCommands).toBe(0);
    // In TMR the two others make the quorum: no grace, the late reply misses its tick.
    const alone = runSimulation({ ...BASE, injects: [late] });
    expect(alone.deadlineMisses).toBeGreaterThan(0);
    expect(alone.replicas[1]).toMatchObject({ state: 'excluded', reason: 'LATE_REPLY' });
  });

  it('the quorum grace waits for a strict majority of those in service: three of five late in one tick are voted, not held', () => {
    const five: LoopOptions = { ...BASE, replicaCount: 5 };
    const late = [0, 1, 2].map((replicaIndex): FaultSpec => ({ kind: 'late', replicaIndex, startTick: 200, durationTicks: 1 }));
    const faultFree = commands(five);
    const stalled = commands({ ...five, injects: late });
    expect(stalled.summary.commands.held).toBe(0);
    expect(stalled.commands).toEqual(faultFree.commands);
    expect(stalled.summary.lateReplies).toBe(3);
    expect(stalled.summary.finalMode).toBe('tmr');
  });

  it('property: any single fault of any kind, replica, tick and duration leaves the voted commands identical to the fault-free run', () => {
    for (const replicaCount of [3, 5]) {
      const options = { ...BASE, replicaCount };
      const clean = runSimulation(options).votedTraceHash;
      fc.assert(
        fc.property(faultArb(replicaCount), (fault) => {
          const run = { ...options, injects: [fault] };
          const s = runSimulation(run);
          expect(s.votedTraceHash, `replay: ${replay(run)}`).toBe(clean);
          expect(s.unsafeCommands, `replay: ${replay(run)}`).toBe(0);
        }),
        { numRuns: replicaCount === 3 ? 300 : 60, seed: 20261121 },
      );
    }
  });

  it('property: two faulty replicas never command a wrong value; the loop ends safe', () => {
    const clean = commands(BASE).commands;
    // A shorter common-mode limit than the default (2 s), so the run holds the episode and its end.
    const limited: LoopOptions = { ...BASE, commonModeLimitMs: 500 };
    const EPISODE_TICKS = coreConfigFor(limited).commonModeTicksMax;
    expect(EPISODE_TICKS, 'the episode limit leaves room in the run for the bound').toBeLessThan(BASE.ticks - 450);
    fc.assert(
      fc.property(
        fc.constantFrom(...FAULT_KINDS),
        fc.constantFrom(...FAULT_KINDS),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom<[number, number]>([0, 1], [0, 2], [1, 2]),
        (kindA, kindB, startA, gap, [a, b]) => {
          const run: LoopOptions = {
            ...limited,
            injects: [
              { kind: kindA, replicaIndex: a, startTick: startA, durationTicks: 0 },
              { kind: kindB, replicaIndex: b, startTick: startA + gap, durationTicks: 0 },
            ],
          };
          const out = commands(run);
          const why = `replay: ${replay(run)}`;
          expect(out.summary.unsafeCommands, why).toBe(0);
          expect(out.summary.finalMode, why).toBe('safe');
          // Every command is the fault-free one, the safe value, or a repeat of the previous
          // command (a hold while no quorum forms) for at most quorumLossTicksMax ticks.
          let holds = 0;
          // Until a common-mode episode (a late replica beside a silent one): past its limit the
          // late replies are voted again, the law's commands for a plant that was held safe
          // meanwhile, so no longer the fault-free run's (the auditor still checks every one).
          const episodeStart = out.summary.commonMode.records[0]?.startTick ?? Number.POSITIVE_INFINITY;
          out.commands.forEach((cmd, tick) => {
            if (tick >= episodeStart) return;
            if (cmd === clean[tick] || cmd === 0) {
              holds = 0;
              return;
            }
            holds++;
            expect(cmd, `${why} (tick ${tick})`).toBe(out.commands[tick - 1]);
            expect(holds, `${why} (tick ${tick})`).toBeLessThanOrEqual(BASE.quorumLossTicksMax);
          });
          const safeAt = out.summary.modeHistory.find((m) => m.mode === 'safe')!.tick;
          // A late replica beside one that is only silent (hang or late) is a majority late in
          // the same ticks: a common-mode episode, ridden through (the late replies are voted in
          // the quorum grace and are right) until its limit, then judged as any other fault.
          const silentOnly = (k: string): boolean => k === 'hang' || k === 'late';
          const episode = (kindA === 'late' || kindB === 'late') && silentOnly(kindA) && silentOnly(kindB);
          expect(safeAt - (startA + gap), why).toBeLessThanOrEqual(4 + (episode ? EPISODE_TICKS + BASE.errorDensityLimit : 0));
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe('golden trace', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const golden = join(here, '..', 'golden', 'sim-wrong-then-crash.trace');

  it('matches the committed one-line-per-tick trace byte for byte (UPDATE_GOLDEN=1 rewrites it)', () => {
    const lines: string[] = [];
    runSimulation(
      {
        ...BASE,
        ticks: 400,
        seed: 3,
        injects: [
          { kind: 'wrong', replicaIndex: 1, startTick: 120, durationTicks: 0 },
          { kind: 'crash', replicaIndex: 2, startTick: 300, durationTicks: 0 },
        ],
      },
      { onTick: (model, result) => lines.push(model.traceLine(result)) },
    );
    const text = `${lines.join('\n')}\n`;
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(dirname(golden), { recursive: true });
      writeFileSync(golden, text);
    }
    expect(text).toBe(readFileSync(golden, 'utf8'));
  });
});
