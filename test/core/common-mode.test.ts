/**
 * Common-mode episodes in the pure core: a majority silent or late at once excludes nobody; one
 * replica silent while a majority answers is still its own fault; an episode past its limit is
 * lost and the detector judges as before. Every case is an exact sequence of ticks.
 */
import { describe, expect, it } from 'vitest';
import type { CoreEvent, StepResult } from '../../src/core/tmr-core.js';
import { CONFIG, harness, type Reply } from '../helpers/core-harness.js';

const good = (cmd = 500): Reply => [cmd, 3, 0xabc];
const ALL_SILENT: Reply[] = [null, null, null];
const LIMIT = CONFIG.commonModeTicksMax;

function kinds(events: readonly CoreEvent[]): string[] {
  return events.map((e) => e.kind);
}

describe('common-mode episodes', () => {
  it('all three silent for a while: held, then safe, nobody excluded, and back to TMR by itself when they answer again', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    const during: StepResult[] = [];
    for (let t = 0; t < 15; t++) during.push({ ...h.tick(ALL_SILENT), events: [...h.state.result.events] } as StepResult);
    expect(during.map((r) => r.commandSource)).toEqual(['held', 'held', ...new Array(13).fill('safe')]);
    expect(during[0]!.events).toContainEqual({ kind: 'commonModeStarted', tick: 1, cause: 'REPLICAS_SILENT', silentMask: 0b111 });
    expect(during.every((r) => r.commonMode && r.excusedMask === 0b111)).toBe(true);
    expect(h.state.safeReason).toBe('COMMON_MODE_STALL');
    expect(h.state.status).toEqual(['inService', 'inService', 'inService']);
    // They come back together, each with the replies queued while stopped arriving late.
    const catchUp = h.tick([good(620), good(620), good(620)], { late: [0, 1, 2] });
    expect(catchUp.commandSource).toBe('voted');
    expect(catchUp.commonMode).toBe(true);
    const back = h.tick([good(620), good(620), good(620)]);
    expect(back.commonMode).toBe(false);
    expect(back.events).toContainEqual({ kind: 'commonModeEnded', tick: 17, startTick: 1, lengthTicks: 16, cause: 'REPLICAS_SILENT', outcome: 'RIDDEN', silentMask: 0b111 });
    expect(back.mode).toBe('tmr');
    expect(h.state.status).toEqual(['inService', 'inService', 'inService']);
    expect(h.state.counters).toMatchObject({ commonModeEpisodes: 1, commonModeRidden: 1, commonModeLost: 0, commonModeLongestTicks: 16 });
    // The misses are still counted, for the summary.
    expect(h.state.health[0]!.counters.missedDeadlines).toBe(15);
  });

  it('with episodes off the same stall excludes all three at the third miss (the behaviour before episodes)', () => {
    const h = harness({ ...CONFIG, commonModeTicksMax: 0 });
    h.tick([good(), good(), good()]);
    h.tick(ALL_SILENT);
    h.tick(ALL_SILENT);
    const third = h.tick(ALL_SILENT);
    expect(kinds(third.events).filter((k) => k === 'replicaExcluded')).toHaveLength(3);
    expect(h.state.status).toEqual(['excluded', 'excluded', 'excluded']);
  });

  it('two silent while one answers: an episode; the lone answer is never commanded', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    for (let t = 0; t < 10; t++) {
      const r = h.tick([good(999), null, null]);
      expect(r.commandSource === 'held' ? r.commands[0] : r.commands[0]).not.toBe(999);
      expect(['held', 'safe']).toContain(r.commandSource);
      expect(r.commonMode).toBe(true);
    }
    expect(h.state.status).toEqual(['inService', 'inService', 'inService']);
  });

  it('one silent while a majority answers on time is its own fault: excluded on its third miss, as before', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    const results = [h.tick([good(), null, good()]), h.tick([good(), null, good()]), h.tick([good(), null, good()])];
    expect(results.map((r) => r.commonMode)).toEqual([false, false, false]);
    expect(results[2]!.events).toContainEqual({ kind: 'replicaExcluded', replicaIndex: 1, reason: 'DEADLINE_MISSED', tick: 3 });
  });

  it('an episode longer than the limit is lost: the silent replicas are then judged as usual, and no new episode hides them', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    let lostAt = -1;
    let excludedAt = -1;
    for (let t = 1; t <= LIMIT + 10; t++) {
      const r = h.tick([good(), null, null]);
      for (const e of r.events) {
        if (e.kind === 'commonModeEnded') {
          expect(e.outcome).toBe('LOST');
          lostAt = e.tick;
        }
        if (e.kind === 'replicaExcluded' && excludedAt === -1) excludedAt = e.tick;
        if (e.kind === 'commonModeStarted') expect(t, 'a second episode started after the first was lost').toBe(1);
      }
    }
    expect(lostAt).toBe(1 + LIMIT);
    // Judged from the tick it was lost on: its third counted miss excludes.
    expect(excludedAt).toBe(lostAt + 2);
    expect(h.state.status).toEqual(['inService', 'excluded', 'excluded']);
    expect(h.state.counters).toMatchObject({ commonModeEpisodes: 1, commonModeLost: 1 });
    expect(h.state.mode).toBe('safe');
  });

  it('a straggler after an episode has the settling window to catch up, and no more', () => {
    // The window: as long as the episode lasted (ticks 1 to 6), plus both detector limits.
    const settle = 6 + CONFIG.deadlineMissLimit + CONFIG.errorDensityLimit;
    const h = harness();
    h.tick([good(), good(), good()]);
    for (let t = 0; t < 5; t++) h.tick(ALL_SILENT);
    // Replicas 0 and 2 answer; 1 is still catching up.
    const end = h.tick([good(), null, good()], { late: [0, 2] });
    expect(end.commonMode).toBe(true);
    const ridden = h.tick([good(), null, good()]);
    expect(kinds(ridden.events)).toContain('commonModeEnded');
    const riddenTick = ridden.tick; // the result is the core's and the next step overwrites it
    let excludedAt = -1;
    for (let t = 0; t < settle + 5 && excludedAt === -1; t++) {
      const r = h.tick([good(), null, good()]);
      if (r.events.some((e) => e.kind === 'replicaExcluded')) excludedAt = r.tick;
    }
    // Excused through the window (ending at the ridden tick + settle), then three counted misses.
    expect(excludedAt).toBe(riddenTick + settle + 3);
  });

  it('a corrupt frame during an episode still counts: only timing is excused', () => {
    const h = harness({ ...CONFIG, errorDensityLimit: 2 });
    h.tick([good(), good(), good()]);
    h.tick(ALL_SILENT, { corrupt: [1] });
    const r = h.tick(ALL_SILENT, { corrupt: [1] });
    expect(r.events).toContainEqual({ kind: 'replicaExcluded', replicaIndex: 1, reason: 'PROTOCOL_ERROR', tick: 2 });
  });

  it('both silent in duplex is an episode; one silent in duplex is its own fault', () => {
    const both = harness();
    both.tick([good(), good(), good()], {});
    both.tick([good(), good(), null], { down: [2] });
    for (let t = 0; t < 8; t++) expect(both.tick([null, null, null]).commonMode).toBe(true);
    expect(both.state.status).toEqual(['inService', 'inService', 'excluded']);
    const one = harness();
    one.tick([good(), good(), good()]);
    one.tick([good(), good(), null], { down: [2] });
    const misses = [one.tick([good(), null, null]), one.tick([good(), null, null]), one.tick([good(), null, null])];
    expect(misses.map((r) => r.commonMode)).toEqual([false, false, false]);
    expect(misses[2]!.events).toContainEqual({ kind: 'replicaExcluded', replicaIndex: 1, reason: 'DEADLINE_MISSED', tick: 4 });
  });

  it('a tick the host was late on is nobody else\'s fault, for up to the limit of such ticks in a row', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    for (let t = 0; t < LIMIT; t++) {
      const r = h.tick([good(), null, good()], { hostLate: true });
      expect(r.excusedMask).toBe(0b111);
      expect(r.commandSource).toBe('voted');
    }
    expect(h.state.status[1]).toBe('inService');
    // A host late for longer than that is not a transient: the silent replica is judged again.
    let excludedAt = -1;
    for (let t = 0; t < 5 && excludedAt === -1; t++) {
      const r = h.tick([good(), null, good()], { hostLate: true });
      if (r.events.some((e) => e.kind === 'replicaExcluded')) excludedAt = r.tick;
    }
    expect(excludedAt).toBe(LIMIT + 3);
  });

  it('an episode the host was late in is named for the host', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    const r = h.tick(ALL_SILENT, { hostLate: true });
    expect(r.events).toContainEqual({ kind: 'commonModeStarted', tick: 1, cause: 'HOST_OVERRUN', silentMask: 0b111 });
  });
});

describe('cold restart (the recovery policy allows it)', () => {
  it('replicas the shell cold-starts are in service from that tick; the safe latch and the lost episode are cleared', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    // Every replica out (an episode lost past its limit, then three missed deadlines each).
    for (let t = 0; t < LIMIT + 4; t++) h.tick(ALL_SILENT);
    expect(h.state.status).toEqual(['excluded', 'excluded', 'excluded']);
    expect(h.state.commonMode.lostLatched).toBe(true);
    const cold = h.tick([good(0), good(0), null], { coldStart: [0, 1] });
    expect(cold.events.filter((e) => e.kind === 'coldStarted').map((e) => ('replicaIndex' in e ? e.replicaIndex : -1))).toEqual([0, 1]);
    expect(cold.commandSource).toBe('voted');
    expect(cold.mode).toBe('duplex');
    expect(cold.events).toContainEqual(expect.objectContaining({ kind: 'modeChanged', to: 'duplex', reason: 'COLD_RESTART' }));
    expect(h.state.commonMode.lostLatched).toBe(false);
    expect(h.state.safeLatched).toBe(false);
  });

  it('a cold start of a minority of the set is a bug of the shell (an assertion)', () => {
    const h = harness();
    h.tick([good(), good(), good()]);
    for (let t = 0; t < LIMIT + 4; t++) h.tick(ALL_SILENT);
    expect(() => h.tick([good(0), null, null], { coldStart: [0] })).toThrow(/a cold start needs a majority of the set/);
  });
});
