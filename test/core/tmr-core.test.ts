import { describe, expect, it } from 'vitest';
import { modeFor, MODES, type Mode } from '../../src/core/degradation.js';
import { createReplicaHealth, detectorUpdate, TICK_FLAG } from '../../src/core/failure-detector.js';
import { createCoreState, createObservations, excludeReplica, step } from '../../src/core/tmr-core.js';
import { CONFIG, feed, harness, type Reply } from '../helpers/core-harness.js';

const good = (cmd = 500): Reply => [cmd, 3, 0xabc];

describe('degradation ladder', () => {
  it('maps every (in-service count, policy, latch) to the documented mode', () => {
    const table: [number, 'safe' | 'simplex', boolean, Mode][] = [];
    for (let n = 0; n <= 5; n++) {
      for (const policy of ['safe', 'simplex'] as const) {
        for (const latched of [false, true]) {
          const expected: Mode = latched ? 'safe' : n >= 3 ? 'tmr' : n === 2 ? 'duplex' : n === 1 && policy === 'simplex' ? 'simplex' : 'safe';
          table.push([n, policy, latched, expected]);
        }
      }
    }
    for (const [n, policy, latched, expected] of table) expect(modeFor(n, policy, latched), `${n} ${policy} ${latched}`).toBe(expected);
    expect(new Set(table.map((r) => r[3]))).toEqual(new Set(MODES));
  });

  it('walks tmr → duplex → safe as replicas are excluded (policy safe)', () => {
    const h = harness();
    expect(h.tick([good(), good(), good()]).mode).toBe('tmr');
    const r1 = h.tick([good(), null, good()], { down: [1] });
    expect(r1.events).toContainEqual({ kind: 'replicaExcluded', replicaIndex: 1, reason: 'LINK_DOWN', tick: 1 });
    expect(r1.mode).toBe('duplex');
    expect(r1.commandSource).toBe('voted');
    const r2 = h.tick([good(), null, null], { down: [2] });
    expect(r2.mode).toBe('safe');
    expect(r2.commandSource).toBe('safe');
    expect(r2.commands[0]).toBe(0);
    expect(h.state.mode).toBe('safe');
  });

  it('walks tmr → duplex → simplex → safe with policy simplex', () => {
    const h = harness({ ...CONFIG, simplexPolicy: 'simplex' });
    h.tick([good(), good(), good()]);
    h.tick([good(), good(), null], { down: [2] });
    const r = h.tick([good(700), null, null], { down: [1] });
    expect(r.mode).toBe('simplex');
    expect(r.commandSource).toBe('simplex');
    expect(r.commands[0]).toBe(700);
    const last = h.tick([null, null, null], { down: [0] });
    expect(last.mode).toBe('safe');
    expect(last.commands[0]).toBe(0);
  });

  it('duplex disagreement latches safe: nobody can tell who is right', () => {
    const h = harness();
    h.tick([good(), good(), null], { down: [2] });
    const r = h.tick([good(500), good(501), null]);
    expect(r.commandSource).toBe('safe');
    expect(h.state.safeReason).toBe('DUPLEX_DISAGREEMENT');
    expect(h.state.mode).toBe('safe');
    // Agreement afterwards does not un-latch.
    expect(h.tick([good(), good(), null]).commandSource).toBe('safe');
  });

  it('duplex digest disagreement latches safe even when outputs agree', () => {
    const h = harness();
    h.tick([good(), good(), null], { down: [2] });
    const r = h.tick([[500, 3, 1], [500, 3, 2], null]);
    expect(r.commandSource).toBe('safe');
    expect(h.state.safeReason).toBe('DUPLEX_DISAGREEMENT');
  });
});

describe('voting and masking', () => {
  it('masks a single wrong replica and flags it; excludes it after errorDensityLimit ticks', () => {
    const h = harness();
    for (let t = 0; t < 2; t++) {
      const r = h.tick([good(), good(9_000), good()]);
      expect(r.commands[0]).toBe(500);
      expect(r.flags[1]! & TICK_FLAG.DISAGREE).toBeTruthy();
      expect(h.state.status[1]).toBe('inService');
    }
    const r = h.tick([good(), good(9_000), good()]);
    expect(r.commands[0]).toBe(500);
    expect(r.events).toContainEqual({ kind: 'replicaExcluded', replicaIndex: 1, reason: 'OUTPUT_DISAGREE', tick: 2 });
  });

  it('catches a diverged state through the digest while outputs still agree', () => {
    const h = harness();
    let excludedAt = -1;
    for (let t = 0; t < 5 && excludedAt < 0; t++) {
      const r = h.tick([good(), good(), [500, 3, 0xdead]]);
      expect(r.commands[0]).toBe(500);
      if (r.events.some((e) => e.kind === 'replicaExcluded')) excludedAt = t;
    }
    expect(excludedAt).toBe(2);
    expect(h.state.exclusionReason[2]).toBe('DIGEST_MISMATCH');
  });

  it('a command beyond the limit is refused from the vote and flagged', () => {
    const h = harness();
    const r = h.tick([good(), good(12_001), good()]);
    expect(r.participantMask).toBe(0b101);
    expect(r.flags[1]! & TICK_FLAG.RANGE).toBeTruthy();
    expect(r.commands[0]).toBe(500);
  });

  it('two faulty replicas in TMR: the last majority command is held briefly, then safe; never a minority value', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    const seen: number[] = [];
    for (let t = 0; t < 6; t++) {
      const r = h.tick([good(500), good(9_000 + t), null]);
      seen.push(r.commands[0]!);
      expect([500, 0]).toContain(r.commands[0]);
      if (t < 2) expect(r.commandSource).toBe('held');
    }
    expect(h.state.mode).toBe('safe');
    // Safe for lack of quorum from the third tick; once the silent replica is excluded the two
    // left disagree, and that latches.
    expect(h.state.safeReason).toBe('DUPLEX_DISAGREEMENT');
    expect(h.state.safeLatched).toBe(true);
    expect(seen).toEqual([500, 500, 0, 0, 0, 0]);
  });

  it('a majority that was only late is a majority again: safe while it is missing, voted when it returns (common-mode episodes off)', () => {
    const h = harness({ ...CONFIG, deadlineMissLimit: 10, errorDensityLimit: 10, commonModeTicksMax: 0 });
    h.tick([good(), good(), good()]);
    const sources: string[] = [];
    const modes: string[] = [];
    for (let t = 0; t < 4; t++) {
      const r = h.tick([good(), null, null]);
      sources.push(r.commandSource);
      modes.push(r.mode);
    }
    expect(sources).toEqual(['held', 'held', 'safe', 'safe']);
    expect(modes).toEqual(['tmr', 'tmr', 'safe', 'safe']);
    expect(h.state.safeReason).toBe('QUORUM_LOST');
    const back = h.tick([good(620), good(620), null]);
    expect(back.commandSource).toBe('voted');
    expect(back.commands[0]).toBe(620);
    expect(back.mode).toBe('tmr');
    expect(back.events).toContainEqual({ kind: 'quorumRegained', tick: 5 });
    expect(back.events).toContainEqual({ kind: 'modeChanged', from: 'safe', to: 'tmr', reason: 'QUORUM_REGAINED', tick: 5 });
    expect(h.state.safeReason).toBeNull();
  });

  it('five replicas: two faulty ones are masked', () => {
    const h = harness({ ...CONFIG, replicaCount: 5 });
    const r = h.tick([good(), good(1), good(), good(2), good()]);
    expect(r.commandSource).toBe('voted');
    expect(r.commands[0]).toBe(500);
  });
});

describe('failure detector', () => {
  const cfg = { deadlineMissLimit: 3, errorDensityLimit: 3 };

  it('a silent replica is excluded on its third consecutive miss, two ticks after the first', () => {
    const health = createReplicaHealth();
    expect(detectorUpdate(health, cfg, 10, TICK_FLAG.MISSED)).toBeNull();
    expect(detectorUpdate(health, cfg, 11, TICK_FLAG.MISSED)).toBeNull();
    expect(detectorUpdate(health, cfg, 12, TICK_FLAG.MISSED)).toBe('DEADLINE_MISSED');
  });

  it('one transient of any kind never excludes, and the density decays', () => {
    for (const flag of Object.values(TICK_FLAG)) {
      const health = createReplicaHealth();
      expect(detectorUpdate(health, cfg, 0, flag)).toBeNull();
      for (let t = 1; t < 50; t++) expect(detectorUpdate(health, cfg, t, 0)).toBeNull();
      expect(health.errorDensity).toBe(0);
    }
  });

  it('intermittent errors that outnumber clean ticks exclude; balanced ones do not', () => {
    const balanced = createReplicaHealth();
    for (let t = 0; t < 1000; t++) expect(detectorUpdate(balanced, cfg, t, t % 2 === 0 ? TICK_FLAG.DISAGREE : 0)).toBeNull();
    const heavy = createReplicaHealth();
    let excluded: string | null = null;
    for (let t = 0; t < 100 && excluded === null; t++) excluded = detectorUpdate(heavy, cfg, t, t % 3 === 2 ? 0 : TICK_FLAG.DIGEST);
    expect(excluded).toBe('DIGEST_MISMATCH');
  });

  it('names a noisy link PROTOCOL_ERROR even when the last symptom was a digest mismatch', () => {
    const noisy = createReplicaHealth();
    // A corrupt frame, then the digest disagrees (the lost tick left the state behind).
    expect(detectorUpdate(noisy, cfg, 100, TICK_FLAG.PROTOCOL | TICK_FLAG.MISSED)).toBeNull();
    expect(detectorUpdate(noisy, cfg, 101, TICK_FLAG.DIGEST)).toBeNull();
    expect(detectorUpdate(noisy, cfg, 102, TICK_FLAG.DIGEST)).toBe('PROTOCOL_ERROR');
    // Without a corrupt frame in the window, the digest is the reason.
    const diverged = createReplicaHealth();
    detectorUpdate(diverged, cfg, 0, TICK_FLAG.PROTOCOL);
    for (let t = 1; t < 20; t++) detectorUpdate(diverged, cfg, t, 0);
    detectorUpdate(diverged, cfg, 20, TICK_FLAG.DIGEST);
    detectorUpdate(diverged, cfg, 21, TICK_FLAG.DIGEST);
    expect(detectorUpdate(diverged, cfg, 22, TICK_FLAG.DIGEST)).toBe('DIGEST_MISMATCH');
  });

  it('names a late replica LATE_REPLY and a garbling one PROTOCOL_ERROR, not DEADLINE_MISSED', () => {
    const late = createReplicaHealth();
    detectorUpdate(late, cfg, 0, TICK_FLAG.MISSED);
    detectorUpdate(late, cfg, 1, TICK_FLAG.MISSED | TICK_FLAG.LATE);
    expect(detectorUpdate(late, cfg, 2, TICK_FLAG.MISSED | TICK_FLAG.LATE)).toBe('LATE_REPLY');
    const garbling = createReplicaHealth();
    detectorUpdate(garbling, cfg, 0, TICK_FLAG.MISSED | TICK_FLAG.PROTOCOL);
    detectorUpdate(garbling, cfg, 1, TICK_FLAG.MISSED);
    expect(detectorUpdate(garbling, cfg, 2, TICK_FLAG.MISSED)).toBe('PROTOCOL_ERROR');
  });
});

describe('core invariants', () => {
  it('rejects invalid configurations at load', () => {
    expect(() => createCoreState({ ...CONFIG, replicaCount: 4 })).toThrow(/odd/);
    expect(() => createCoreState({ ...CONFIG, replicaCount: 1 })).toThrow(/odd/);
    expect(() => createCoreState({ ...CONFIG, channels: [{ ...CONFIG.channels[0]!, safe: 20_000 }, CONFIG.channels[1]!] })).toThrow(/safe value outside its range/);
    expect(() => createCoreState({ ...CONFIG, channels: [{ ...CONFIG.channels[0]!, min: 5, max: 1 }, CONFIG.channels[1]!] })).toThrow(/range is not min <= max/);
    expect(() => createCoreState({ ...CONFIG, deadlineMissLimit: 0 })).toThrow(/deadlineMissLimit/);
  });

  it('refuses ticks out of order', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    expect(() => step(h.state, h.obs, 5)).toThrow(/does not follow/);
  });

  it('a replica refused at handshake starts excluded and the ladder reflects it at the first tick', () => {
    const state = createCoreState(CONFIG);
    excludeReplica(state, 0, 'HANDSHAKE_REFUSED', 0);
    const obs = createObservations(3, 2);
    feed(obs, [good(), good(), good()]);
    const r = step(state, obs, 0);
    expect(r.mode).toBe('duplex');
    expect(r.inServiceMask).toBe(0b110);
    expect(r.commandSource).toBe('voted');
  });
});
