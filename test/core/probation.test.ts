import { describe, expect, it } from 'vitest';
import { CONFIG, harness, type Reply } from '../helpers/core-harness.js';

const good: Reply = [500, 3, 0xabc];

/** Crash replica 2 at tick 1 (link down): the loop runs in duplex. */
function afterCrash() {
  const h = harness();
  h.tick([good, good, good]);
  h.tick([good, good, null], { down: [2] });
  expect(h.state.status[2]).toBe('excluded');
  return h;
}

describe('probation (a half-open breaker in the core)', () => {
  it('compares a returning replica for P ticks without counting it, then takes the ladder back up to tmr', () => {
    const h = afterCrash();
    const first = h.tick([good, good, good], { start: [2] });
    expect(first.events).toContainEqual({ kind: 'probationStarted', replicaIndex: 2, tick: 2 });
    expect(first.mode).toBe('duplex');
    expect(first.probationMask).toBe(0b100);
    expect(first.participantMask & 0b100).toBe(0);
    for (let k = 0; k < 2; k++) expect(h.tick([good, good, good]).inServiceMask).toBe(0b011);
    const fourth = h.tick([good, good, good]);
    expect(fourth.events).toContainEqual({ kind: 'replicaReadmitted', replicaIndex: 2, tick: 5 });
    expect(fourth.events).toContainEqual({ kind: 'modeChanged', from: 'duplex', to: 'tmr', reason: 'replica 2 READMITTED', tick: 5 });
    // Counted from the next tick: it now outvotes a wrong replica.
    const next = h.tick([[900, 3, 0xdef], good, good]);
    expect(next.inServiceMask).toBe(0b111);
    expect(next.participantMask).toBe(0b111);
    expect(next.commands[0]).toBe(500);
    expect(h.state.status[2]).toBe('inService');
  });

  it('never counts a probation replica, even when it alone would make a majority', () => {
    const h = afterCrash();
    // Replica 0 agrees with the returning replica 2; replica 1 differs. In duplex that is no
    // quorum: replica 2's agreement must not make one.
    const r = h.tick([good, [700, 3, 0xabc], good], { start: [2] });
    expect(r.commandSource).toBe('safe');
    expect(r.participantMask & 0b100).toBe(0);
  });

  it.each([
    ['a wrong output', [510, 3, 0xabc] as Reply, 'OUTPUT_DISAGREE'],
    ['a wrong digest (a corrupted state transfer)', [500, 3, 0xbad] as Reply, 'DIGEST_MISMATCH'],
    ['an out-of-range command', [20_000, 3, 0xabc] as Reply, 'OUTPUT_OUT_OF_RANGE'],
  ])('sends it straight back out on %s, at the first such tick', (_what, reply, reason) => {
    const h = afterCrash();
    h.tick([good, good, good], { start: [2] });
    const r = h.tick([good, good, reply]);
    expect(r.events).toContainEqual({ kind: 'replicaExcluded', replicaIndex: 2, reason, tick: 3 });
    expect(h.state.status[2]).toBe('excluded');
    expect(r.mode).toBe('duplex');
    expect(r.commands[0]).toBe(500);
  });

  it('accepts an analog channel within tolerance and refuses it beyond', () => {
    const within = afterCrash();
    within.tick([good, good, [500, 5, 0xabc]], { start: [2] });
    expect(within.state.status[2]).toBe('probation');
    const beyond = afterCrash();
    beyond.tick([good, good, [500, 6, 0xabc]], { start: [2] });
    expect(beyond.state.status[2]).toBe('excluded');
  });

  it('a missed tick proves nothing: the count neither grows nor restarts; misses up to the limit exclude it as DEADLINE_MISSED', () => {
    const h = afterCrash();
    h.tick([good, good, good], { start: [2] });
    h.tick([good, good, good]);
    h.tick([good, good, null]);
    expect(h.state.probationAgreedTicks[2]).toBe(2);
    expect(h.state.status[2]).toBe('probation');
    h.tick([good, good, good]);
    expect(h.state.status[2]).toBe('probation');
    const readmitted = h.tick([good, good, good]);
    expect(readmitted.events.some((e) => e.kind === 'replicaReadmitted')).toBe(true);

    const silent = afterCrash();
    silent.tick([good, good, null], { start: [2] });
    silent.tick([good, good, null]);
    const out = silent.tick([good, good, null]);
    expect(out.events).toContainEqual({ kind: 'replicaExcluded', replicaIndex: 2, reason: 'DEADLINE_MISSED', tick: 4 });
  });

  it('a reply voted late (the quorum grace) leaves the count; a corrupt frame restarts it', () => {
    const h = afterCrash();
    h.tick([good, good, good], { start: [2] });
    h.tick([good, good, good], { late: [2] });
    expect(h.state.probationAgreedTicks[2]).toBe(1);
    h.tick([good, good, good]);
    expect(h.state.probationAgreedTicks[2]).toBe(2);
    h.tick([good, good, good], { corrupt: [2] });
    expect(h.state.probationAgreedTicks[2]).toBe(0);
    expect(h.state.status[2]).toBe('probation');
  });

  it('ticks without a commanding majority prove nothing: the count neither grows nor resets', () => {
    const h = afterCrash();
    h.tick([good, good, good], { start: [2] });
    expect(h.state.probationAgreedTicks[2]).toBe(1);
    // Replica 1 silent: duplex has no quorum, the command is held.
    const held = h.tick([good, null, good]);
    expect(held.commandSource).toBe('held');
    expect(h.state.probationAgreedTicks[2]).toBe(1);
    expect(h.state.status[2]).toBe('probation');
  });

  it('a link that dies on probation is excluded as LINK_DOWN', () => {
    const h = afterCrash();
    h.tick([good, good, good], { start: [2] });
    const r = h.tick([good, good, null], { down: [2] });
    expect(r.events).toContainEqual({ kind: 'replicaExcluded', replicaIndex: 2, reason: 'LINK_DOWN', tick: 3 });
  });

  it('climbs safe → duplex → tmr from a lone replica when the simplex policy trusts it', () => {
    const h = harness({ ...CONFIG, simplexPolicy: 'simplex', probationTicks: 2 });
    h.tick([good, good, good]);
    const lone = h.tick([good, null, null], { down: [1, 2] });
    expect(lone.mode).toBe('simplex');
    h.tick([good, good, null], { start: [1] });
    const duplex = h.tick([good, good, null]);
    expect(duplex.events).toContainEqual({ kind: 'modeChanged', from: 'simplex', to: 'duplex', reason: 'replica 1 READMITTED', tick: 3 });
    h.tick([good, good, good], { start: [2] });
    expect(h.tick([good, good, good]).events.map((e) => e.kind)).toContain('replicaReadmitted');
    expect(h.tick([good, good, good]).mode).toBe('tmr');
  });

  it('refuses probation for a replica that is not out (a shell bug)', () => {
    const h = harness();
    expect(() => h.tick([good, good, good], { start: [1] })).toThrow(/not excluded/);
  });
});
