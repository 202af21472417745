/**
 * The input conditioner: exact channel values and events, tick by tick, for fresh, stale, missing
 * and out-of-range samples under hold policies of 0..4 ticks; and against a reference model over
 * every sequence of sample states up to a length.
 */
import { describe, expect, it } from 'vitest';
import { InputConditioner, wholeTicks, type ChannelSample } from '../../src/io/input-conditioner.js';
import { checkIoMap, type InputBinding } from '../../src/io/io-map.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import type { InputEvent } from '../../src/loop/world.js';

const TANK = shippedLaw('tank');

function bindings(holdTicks: number): readonly InputBinding[] {
  return checkIoMap(
    {
      heartbeatPin: 8,
      inputs: {
        levelSetpointMm: { source: 'profile' },
        levelMm: { source: 'analog', pin: 'A0', raw: [10, 1010], value: [0, 2000], staleAfterMs: 30, onFault: { holdTicks } },
        highSwitch: { source: 'digital', pin: 2, invert: true, onFault: { holdTicks } },
      },
      outputs: { valvePermille: { actuator: 'servo', pin: 9 }, pumpOn: { actuator: 'relay', pin: 7 }, alarm: { actuator: 'led', pin: 13 } },
    },
    'test.json',
    TANK,
  ).inputs;
}

/** Stale after 3 ticks (30 ms at 100 Hz). */
const STALE_TICKS = [0, 3, 0];
const make = (holdTicks: number): InputConditioner => new InputConditioner(TANK.definition, bindings(holdTicks), STALE_TICKS, (tick) => 1000 + tick);

describe('InputConditioner', () => {
  it('scales, inverts and follows the profile', () => {
    const c = make(2);
    const out = new Int32Array(3);
    const health = c.condition(7, [null, { raw: 510, ageTicks: 0 }, { raw: 0, ageTicks: 40 }], out);
    expect([...out]).toEqual([1007, 1000, 1]);
    expect(health).toEqual({ events: [], holding: 0 });
    c.condition(8, [null, { raw: 1010, ageTicks: 3 }, { raw: 1, ageTicks: 400 }], out);
    expect([...out]).toEqual([1008, 2000, 0]); // age 3 is not stale yet; a digital input is never stale once it reported
  });

  it('holds the last good value for holdTicks, then expires before the next tick is commanded', () => {
    const c = make(2);
    const out = new Int32Array(3);
    const digital = { raw: 1, ageTicks: 0 };
    c.condition(0, [null, { raw: 110, ageTicks: 0 }, digital], out);
    expect(out[1]).toBe(200);
    let h = c.condition(1, [null, { raw: 110, ageTicks: 4 }, digital], out);
    expect(h.events).toEqual([{ kind: 'inputFault', channel: 1, reason: 'SENSOR_STALE', tick: 1, detail: 'analog pin A0: last reading 4 ticks old (stale after 3)' }]);
    expect(out[1]).toBe(200);
    expect(h.holding).toBe(1);
    h = c.condition(2, [null, { raw: 110, ageTicks: 5 }, digital], out);
    expect(h.events).toEqual([]);
    expect(c.expired).toBeNull();
    h = c.condition(3, [null, { raw: 110, ageTicks: 6 }, digital], out);
    expect(h.events).toEqual([{ kind: 'inputHoldExpired', channel: 1, reason: 'SENSOR_STALE', tick: 3, heldTicks: 2 }]);
    expect(c.expired).toEqual(h.events[0]);
    expect(c.faultTicks).toEqual({ SENSOR_STALE: 3, SENSOR_OUT_OF_RANGE: 0 });
  });

  it('a good reading before the hold runs out recovers the channel', () => {
    const c = make(3);
    const out = new Int32Array(3);
    const d = { raw: 0, ageTicks: 0 };
    c.condition(0, [null, { raw: 510, ageTicks: 0 }, d], out);
    let h = c.condition(1, [null, { raw: 1015, ageTicks: 0 }, d], out);
    expect(h.events).toEqual([{ kind: 'inputFault', channel: 1, reason: 'SENSOR_OUT_OF_RANGE', tick: 1, detail: 'analog pin A0: raw reading 1015 outside 10..1010' }]);
    expect(out[1]).toBe(1000);
    h = c.condition(2, [null, { raw: 5, ageTicks: 0 }, d], out);
    expect(h.events).toEqual([]);
    h = c.condition(3, [null, { raw: 20, ageTicks: 0 }, d], out);
    expect(h.events).toEqual([{ kind: 'inputRecovered', channel: 1, tick: 3, heldTicks: 2 }]);
    expect(out[1]).toBe(20);
    expect(c.faultsBegun[1]).toBe(1);
  });

  it('a reason that changes mid-fault is a new fault event, not a new hold', () => {
    const c = make(2);
    const out = new Int32Array(3);
    const d = { raw: 0, ageTicks: 0 };
    c.condition(0, [null, { raw: 510, ageTicks: 0 }, d], out);
    c.condition(1, [null, { raw: 0, ageTicks: 0 }, d], out);
    const h = c.condition(2, [null, { raw: 0, ageTicks: 9 }, d], out);
    expect(h.events.map((e) => [e.kind, 'reason' in e ? e.reason : null])).toEqual([['inputFault', 'SENSOR_STALE']]);
    expect(c.condition(3, [null, { raw: 0, ageTicks: 9 }, d], out).events[0]?.kind).toBe('inputHoldExpired');
    expect(c.faultsBegun[1]).toBe(1);
  });

  it('primed with the readings taken while the world opened: a stale sample at tick 0 is held', () => {
    const c = make(2);
    const out = new Int32Array(3);
    c.prime([null, { raw: 510, ageTicks: 0 }, { raw: 0, ageTicks: 0 }]);
    const h = c.condition(0, [null, { raw: 510, ageTicks: 8 }, { raw: 0, ageTicks: 0 }], out);
    expect(h.events.map((e) => e.kind)).toEqual(['inputFault']);
    expect([...out]).toEqual([1000, 1000, 1]);
    // A reading that was bad while opening gives nothing to hold.
    const d = make(2);
    d.prime([null, { raw: 1023, ageTicks: 0 }, null]);
    expect(d.condition(0, [null, { raw: 510, ageTicks: 8 }, { raw: 0, ageTicks: 0 }], out).events.map((e) => e.kind)).toEqual(['inputFault', 'inputHoldExpired']);
  });

  it('no sample at all: nothing to hold, expired at once', () => {
    const c = make(5);
    const out = new Int32Array(3);
    const h = c.condition(0, [null, null, null], out);
    expect(h.events.map((e) => `${e.kind}:${e.channel}`)).toEqual(['inputFault:1', 'inputHoldExpired:1', 'inputFault:2', 'inputHoldExpired:2']);
    expect([...out]).toEqual([1000, 0, 0]);
  });

  it('matches a reference model over every sequence of 6 sample states, for holds 0..4', () => {
    // States: good (raw 510), stale, out of range. The model: count consecutive bad ticks b; the
    // channel holds while b <= hold and expires when b == hold + 1 (once); good resets b.
    const states = ['good', 'stale', 'range'] as const;
    const sample = (s: (typeof states)[number]): ChannelSample => (s === 'good' ? { raw: 510, ageTicks: 0 } : s === 'stale' ? { raw: 510, ageTicks: 4 } : { raw: 1023, ageTicks: 0 });
    let sequences = 0;
    for (let hold = 0; hold <= 4; hold++) {
      for (let code = 0; code < 3 ** 6; code++) {
        const seq = Array.from({ length: 6 }, (_, k) => states[Math.floor(code / 3 ** k) % 3]!);
        const c = make(hold);
        const out = new Int32Array(3);
        c.condition(0, [null, { raw: 610, ageTicks: 0 }, { raw: 0, ageTicks: 0 }], out);
        let bad = 0;
        let expired = false;
        let last = 1200;
        for (let t = 0; t < 6; t++) {
          const h = c.condition(t + 1, [null, sample(seq[t]!), { raw: 0, ageTicks: 0 }], out);
          const kinds = h.events.map((e: InputEvent) => e.kind);
          if (seq[t] === 'good') {
            expect(kinds).toEqual(bad > 0 ? ['inputRecovered'] : []);
            bad = 0;
            last = 1000;
            expect(out[1]).toBe(1000);
            continue;
          }
          bad++;
          const faultEvent = bad === 1 || seq[t] !== seq[t - 1];
          const expiresNow = bad === hold + 1 && !expired;
          expect(kinds).toEqual([...(faultEvent ? ['inputFault'] : []), ...(expiresNow ? ['inputHoldExpired'] : [])]);
          if (expiresNow) expired = true;
          expect(out[1]).toBe(last);
          expect(h.holding).toBe(bad <= hold ? 1 : 0);
        }
        sequences++;
      }
    }
    expect(sequences).toBe(5 * 729);
  });

  it('converts wall time to ticks in one place', () => {
    expect(wholeTicks(0, 10)).toBe(0);
    expect(wholeTicks(9.99, 10)).toBe(0);
    expect(wholeTicks(10, 10)).toBe(1);
    expect(wholeTicks(-3, 10)).toBe(0);
  });
});
