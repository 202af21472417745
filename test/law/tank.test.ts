/**
 * The shipped law "tank" and the tank plant it runs against by default.
 *
 * The law's discrete part (alarm latch, pump hysteresis, switch debounce) is checked against an
 * oracle written here over grids that hit every threshold from both sides (all levels for the
 * default parameters); the valve's PI against a BigInt reference with C int64_t semantics; the
 * state bytes against what step() can reach. The plant: mass balance, the float switch, the
 * drives' watchdog and safe values, and determinism from the seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/core/prng.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import tank from '../../src/laws/tank/law.js';
import {
  FLOAT_SWITCH_MM,
  INITIAL_LEVEL_MM,
  LEVEL_NOISE_MM,
  OUTLET_LPS_PER_SQRT_MM,
  PUMP_FLOW_LPS,
  TANK_AREA_M2,
  TANK_HEIGHT_MM,
  TANK_PLANT,
  TankWorld,
  VALVE_FLOW_LPS_MAX,
  VALVE_SLEW_PERMILLE_PER_S,
} from '../../src/laws/tank/plant.js';
import { ChannelDrive } from '../../src/sim/channel-drive.js';
import { checkPlantFitsLaw } from '../../src/loop/world.js';

type TankState = ReturnType<typeof tank.init>;
const loaded = shippedLaw('tank');
const Q16 = 65_536;
const LEVEL_MAX = 2_000;
const VALVE_MAX = 1_000;
const INTEGRAL_MAX = VALVE_MAX * Q16;
const COUNT_MAX = 255;
const STATE_FORMAT = 1;

interface Params {
  readonly kpQ16: number;
  readonly kiQ16: number;
  readonly pumpOnBelowMm: number;
  readonly pumpOffBelowMm: number;
  readonly highAlarmMm: number;
  readonly alarmClearMm: number;
  readonly switchDebounceTicks: number;
}

/** What the 7 state bytes hold: [1, flags (bit 0 pump, bit 1 alarm), wet count, integral i32 LE]. */
interface Dynamic {
  pumpOn: number;
  alarm: number;
  switchWetTicks: number;
  integralQ16: number;
}

const PARAM_NAMES = ['kpQ16', 'kiQ16', 'pumpOnBelowMm', 'pumpOffBelowMm', 'highAlarmMm', 'alarmClearMm', 'switchDebounceTicks'] as const;
const DEFAULTS = Object.fromEntries(tank.params.map((p) => [p.name, p.default])) as unknown as Params;

function paramArray(p: Params): Int32Array {
  return Int32Array.from(PARAM_NAMES.map((name) => p[name]));
}

function encode(d: Dynamic, format = STATE_FORMAT, flags = d.pumpOn | (d.alarm << 1)): Uint8Array {
  const bytes = new Uint8Array(7);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, format);
  view.setUint8(1, flags);
  view.setUint8(2, d.switchWetTicks);
  view.setInt32(3, d.integralQ16, true);
  return bytes;
}

function dynamicOf(state: TankState): Dynamic {
  const bytes = new Uint8Array(tank.stateSizeBytes);
  tank.serialize(state, bytes);
  const view = new DataView(bytes.buffer);
  expect(view.getUint8(0)).toBe(STATE_FORMAT);
  const flags = view.getUint8(1);
  expect(flags).toBeLessThanOrEqual(2); // never pump and alarm together
  return { pumpOn: flags & 1, alarm: flags >> 1, switchWetTicks: view.getUint8(2), integralQ16: view.getInt32(3, true) };
}

function stateAt(p: Params, d: Dynamic): TankState {
  const state = tank.init(paramArray(p));
  const refused = tank.deserialize(state, encode(d));
  if (refused !== null) throw new Error(`test setup: ${JSON.stringify(d)} refused: ${refused}`);
  return state;
}

/** One step; returns [valve, pump, alarm]. */
function step(state: TankState, setpointMm: number, levelMm: number, wet = 0): [number, number, number] {
  const outputs = new Int32Array(3);
  tank.step(state, Int32Array.of(setpointMm, levelMm, wet), outputs);
  return [outputs[0]!, outputs[1]!, outputs[2]!];
}

describe('the declaration', () => {
  it('declares its channels, safe values and parameters', () => {
    expect([tank.name, tank.version, tank.stateSizeBytes]).toEqual(['tank', 1, 7]);
    expect(tank.inputs.map((c) => [c.name, c.min, c.max])).toEqual([
      ['levelSetpointMm', 0, LEVEL_MAX],
      ['levelMm', 0, LEVEL_MAX],
      ['highSwitch', 0, 1],
    ]);
    expect(tank.outputs.map((c) => [c.name, c.min, c.max, c.safe, c.vote, c.tolerance ?? 0])).toEqual([
      ['valvePermille', 0, VALVE_MAX, 0, 'mid-value', 2],
      ['pumpOn', 0, 1, 0, 'exact', 0],
      ['alarm', 0, 1, 1, 'exact', 0],
    ]);
    expect(tank.params.map((p) => p.name)).toEqual(PARAM_NAMES);
    expect(DEFAULTS).toEqual({ kpQ16: 98_304, kiQ16: 328, pumpOnBelowMm: 150, pumpOffBelowMm: 40, highAlarmMm: 1_850, alarmClearMm: 1_750, switchDebounceTicks: 3 });
    // No paramsForRate: the declared defaults apply at every rate.
    expect(Array.from(loaded.paramsForRate(50))).toEqual(Array.from(paramArray(DEFAULTS)));
    expect(Array.from(loaded.paramsForRate(1_000))).toEqual(Array.from(paramArray(DEFAULTS)));
  });

  it('starts with pump off, alarm clear, switch count and integral 0', () => {
    expect(dynamicOf(tank.init(paramArray(DEFAULTS)))).toEqual({ pumpOn: 0, alarm: 0, switchWetTicks: 0, integralQ16: 0 });
  });
});

// ---------------------------------------------------------------------------------------------
// The discrete part against an oracle.
// ---------------------------------------------------------------------------------------------

interface Discrete {
  pumpOn: number;
  alarm: number;
  switchWetTicks: number;
}

/** The documented behaviour, written from the law's header. */
function oracle(p: Params, s: Discrete, setpointMm: number, levelMm: number, wet: number): Discrete {
  const switchWetTicks = wet === 1 ? Math.min(COUNT_MAX, s.switchWetTicks + 1) : 0;
  const raise = levelMm > p.highAlarmMm || switchWetTicks > p.switchDebounceTicks;
  const clear = levelMm <= p.alarmClearMm && wet === 0;
  const alarm = s.alarm === 1 ? (clear ? 0 : 1) : raise ? 1 : 0;
  // Below the setpoint by more than the on-distance starts the pump; it runs until the level is
  // no more than the off-distance below. The alarm stops it.
  const belowMm = setpointMm - levelMm;
  const threshold = s.pumpOn === 1 ? p.pumpOffBelowMm : p.pumpOnBelowMm;
  const pumpOn = alarm === 0 && belowMm > threshold ? 1 : 0;
  return { pumpOn, alarm, switchWetTicks };
}

const PARAM_SETS: readonly (readonly [string, Params])[] = [
  ['defaults', DEFAULTS],
  ['no debounce, thresholds at the ends', { ...DEFAULTS, pumpOnBelowMm: 0, pumpOffBelowMm: 0, highAlarmMm: LEVEL_MAX, alarmClearMm: 0, switchDebounceTicks: 0 }],
  ['inverted bands, longest debounce', { ...DEFAULTS, pumpOnBelowMm: 10, pumpOffBelowMm: 300, highAlarmMm: 1_000, alarmClearMm: 1_900, switchDebounceTicks: 100 }],
  ['alarm above 0, cleared anywhere', { ...DEFAULTS, pumpOnBelowMm: LEVEL_MAX - 1, pumpOffBelowMm: LEVEL_MAX, highAlarmMm: 0, alarmClearMm: LEVEL_MAX, switchDebounceTicks: 1 }],
];

const inLevelRange = (x: number): boolean => x >= 0 && x <= LEVEL_MAX;
const unique = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);

/** Levels on both sides of every level threshold. */
function levelGrid(p: Params): number[] {
  return unique([0, 1, 1_000, LEVEL_MAX - 1, LEVEL_MAX, ...[p.highAlarmMm, p.alarmClearMm].flatMap((t) => [t - 1, t, t + 1])].filter(inLevelRange));
}

/** Setpoints that put the error on both sides of every pump threshold at this level. */
function setpointGrid(p: Params, levelMm: number): number[] {
  const errors = [0, ...[p.pumpOnBelowMm, p.pumpOffBelowMm].flatMap((t) => [t - 1, t, t + 1])];
  return unique([0, LEVEL_MAX, ...errors.map((e) => levelMm + e)].filter(inLevelRange));
}

function countGrid(p: Params): number[] {
  const d = p.switchDebounceTicks;
  return unique([0, 1, d - 1, d, d + 1, COUNT_MAX - 1, COUNT_MAX].filter((c) => c >= 0 && c <= COUNT_MAX));
}

/**
 * The states step() makes, with the counts of the grid: pump and alarm never together, the
 * integral empty in alarm, and with the alarm off no more wet reads than the debounce allows.
 */
function startStates(p: Params): Dynamic[] {
  return countGrid(p).flatMap((switchWetTicks) => [
    ...(switchWetTicks <= p.switchDebounceTicks
      ? [
          { pumpOn: 0, alarm: 0, switchWetTicks, integralQ16: 0 },
          { pumpOn: 0, alarm: 0, switchWetTicks, integralQ16: 500 * Q16 },
          { pumpOn: 1, alarm: 0, switchWetTicks, integralQ16: INTEGRAL_MAX },
        ]
      : []),
    { pumpOn: 0, alarm: 1, switchWetTicks, integralQ16: 0 },
  ]);
}

type Transition = 'raisedByLevel' | 'raisedBySwitch' | 'heldRaised' | 'cleared' | 'pumpStarted' | 'pumpStopped' | 'pumpHeldOn' | 'countSaturated';

/** Steps from every start state over every input; returns the first disagreement and what was seen. */
function compareWithOracle(p: Params, levels: number[]): { mismatch: string | null; seen: Map<Transition, number>; steps: number } {
  const seen = new Map<Transition, number>();
  const note = (t: Transition): void => void seen.set(t, (seen.get(t) ?? 0) + 1);
  const state = tank.init(paramArray(p));
  const inputs = new Int32Array(3);
  const outputs = new Int32Array(3);
  const bytes = new Uint8Array(tank.stateSizeBytes);
  let steps = 0;
  for (const start of startStates(p)) {
    const startBytes = encode(start);
    for (const levelMm of levels) {
      for (const setpointMm of setpointGrid(p, levelMm)) {
        for (const wet of [0, 1]) {
          if (tank.deserialize(state, startBytes) !== null) return { mismatch: `start state ${JSON.stringify(start)} refused`, seen, steps };
          inputs[0] = setpointMm;
          inputs[1] = levelMm;
          inputs[2] = wet;
          tank.step(state, inputs, outputs);
          steps++;
          tank.serialize(state, bytes);
          const got = { pumpOn: bytes[1]! & 1, alarm: bytes[1]! >> 1, switchWetTicks: bytes[2]!, outputs: Array.from(outputs) };
          const want = oracle(p, start, setpointMm, levelMm, wet);
          const integral = new DataView(bytes.buffer).getInt32(3, true);
          const valveOk = want.alarm === 1 ? outputs[0] === 0 && integral === 0 : outputs[0]! >= 0 && outputs[0]! <= VALVE_MAX;
          if (
            bytes[1]! > 2 ||
            got.pumpOn !== want.pumpOn ||
            got.alarm !== want.alarm ||
            got.switchWetTicks !== want.switchWetTicks ||
            outputs[1] !== want.pumpOn ||
            outputs[2] !== want.alarm ||
            !valveOk
          ) {
            return { mismatch: `from ${JSON.stringify(start)} inputs [${setpointMm}, ${levelMm}, ${wet}]: got ${JSON.stringify(got)} integral ${integral}, want ${JSON.stringify(want)}`, seen, steps };
          }
          if (start.alarm === 0 && want.alarm === 1) note(levelMm > p.highAlarmMm ? 'raisedByLevel' : 'raisedBySwitch');
          if (start.alarm === 1) note(want.alarm === 1 ? 'heldRaised' : 'cleared');
          if (start.pumpOn === 0 && want.pumpOn === 1) note('pumpStarted');
          if (start.pumpOn === 1) note(want.pumpOn === 1 ? 'pumpHeldOn' : 'pumpStopped');
          if (start.switchWetTicks === COUNT_MAX && want.switchWetTicks === COUNT_MAX) note('countSaturated');
        }
      }
    }
  }
  return { mismatch: null, seen, steps };
}

const ALL_TRANSITIONS: readonly Transition[] = ['raisedByLevel', 'raisedBySwitch', 'heldRaised', 'cleared', 'pumpStarted', 'pumpStopped', 'pumpHeldOn', 'countSaturated'];

describe('alarm latch, pump hysteresis and switch debounce', () => {
  it('match the oracle at every level from 0 to 2000 mm (default parameters)', () => {
    const levels = Array.from({ length: LEVEL_MAX + 1 }, (_, i) => i);
    const { mismatch, seen, steps } = compareWithOracle(DEFAULTS, levels);
    expect(mismatch).toBeNull();
    expect(steps).toBeGreaterThan(500_000);
    // Not vacuous: every kind of transition happened.
    expect(ALL_TRANSITIONS.filter((t) => (seen.get(t) ?? 0) === 0)).toEqual([]);
  });

  it.each(PARAM_SETS)('match the oracle on both sides of every threshold (%s)', (_name, p) => {
    const { mismatch, seen } = compareWithOracle(p, levelGrid(p));
    expect(mismatch).toBeNull();
    expect(seen.size).toBeGreaterThanOrEqual(5);
  });

  it('the oracle itself catches a law that changes any threshold comparison by one', () => {
    // Off-by-one mutants of the oracle must disagree with it somewhere on the grid: the grid reaches each edge.
    const p = DEFAULTS;
    const mutants: Record<string, (s: Discrete, sp: number, lv: number, wet: number) => Discrete> = {
      'level >= high': (s, sp, lv, wet) => oracle({ ...p, highAlarmMm: p.highAlarmMm - 1 }, s, sp, lv, wet),
      'level < clear': (s, sp, lv, wet) => oracle({ ...p, alarmClearMm: p.alarmClearMm - 1 }, s, sp, lv, wet),
      'error >= on': (s, sp, lv, wet) => oracle({ ...p, pumpOnBelowMm: p.pumpOnBelowMm - 1 }, s, sp, lv, wet),
      'error < off': (s, sp, lv, wet) => oracle({ ...p, pumpOffBelowMm: p.pumpOffBelowMm - 1 }, s, sp, lv, wet),
      'count >= debounce': (s, sp, lv, wet) => oracle({ ...p, switchDebounceTicks: p.switchDebounceTicks - 1 }, s, sp, lv, wet),
    };
    for (const [name, mutant] of Object.entries(mutants)) {
      let differs = false;
      for (const start of startStates(p)) {
        for (const lv of levelGrid(p)) {
          for (const sp of setpointGrid(p, lv)) {
            for (const wet of [0, 1]) {
              if (JSON.stringify(mutant(start, sp, lv, wet)) !== JSON.stringify(oracle(p, start, sp, lv, wet))) differs = true;
            }
          }
        }
      }
      expect({ name, differs }).toEqual({ name, differs: true });
    }
  });

  it('debounces the switch: wet for switchDebounceTicks ticks is tolerated, one more raises the alarm', () => {
    for (const debounce of [0, 1, 3, 100]) {
      const state = tank.init(paramArray({ ...DEFAULTS, switchDebounceTicks: debounce }));
      const alarms = Array.from({ length: debounce + 1 }, () => step(state, 1_000, 1_000, 1)[2]);
      expect(alarms).toEqual([...Array<number>(debounce).fill(0), 1]);
      // A wet switch keeps it raised at a low level; a dry one clears it.
      expect(step(state, 1_000, 0, 1)[2]).toBe(1);
      expect(step(state, 1_000, 0, 0)[2]).toBe(0);
    }
  });

  it('a dry reading restarts the debounce count', () => {
    const state = tank.init(paramArray(DEFAULTS));
    const alarms = [1, 1, 1, 0, 1, 1, 1, 1].map((wet) => step(state, 1_000, 1_000, wet)[2]);
    expect(alarms).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
  });
});

// ---------------------------------------------------------------------------------------------
// The valve: PI with anti-windup.
// ---------------------------------------------------------------------------------------------

describe('valve PI', () => {
  const pi = (kpQ16: number, kiQ16: number): Params => ({ ...DEFAULTS, kpQ16, kiQ16 });

  it('opens kp * error, floored, within [0, 1000] permille', () => {
    const p = pi(Q16, 0);
    expect(step(tank.init(paramArray(p)), 1_100, 1_000)[0]).toBe(100);
    expect(step(tank.init(paramArray(p)), 900, 1_000)[0]).toBe(0); // -100 clamps to closed
    expect(step(tank.init(paramArray(p)), LEVEL_MAX, 0)[0]).toBe(VALVE_MAX); // 2000 clamps to open
    const half = pi(Q16 / 2, 0);
    expect(step(tank.init(paramArray(half)), 1_003, 1_000)[0]).toBe(1); // 1.5
    expect(step(tank.init(paramArray(half)), 1_001, 1_000)[0]).toBe(0); // 0.5
  });

  it('accumulates ki * error per tick, floored', () => {
    const state = tank.init(paramArray(pi(0, Q16 / 4)));
    expect([1, 2, 3, 4].map(() => step(state, 1_002, 1_000)[0])).toEqual([0, 1, 1, 2]);
    expect(dynamicOf(state).integralQ16).toBe(2 * Q16);
  });

  it('holds the integral while saturated open, resumes when the error turns', () => {
    const state = tank.init(paramArray(pi(Q16, Q16)));
    const trace = [300, 300, 300, 300, 500, -100].map((e) => {
      const [valve] = step(state, 1_000 + e, 1_000);
      return [valve, dynamicOf(state).integralQ16 / Q16];
    });
    expect(trace).toEqual([[600, 300], [900, 600], [900, 600], [900, 600], [1_000, 600], [400, 500]]);
  });

  it('holds the integral while saturated closed, never below 0', () => {
    const state = stateAt(pi(Q16, Q16), { pumpOn: 0, alarm: 0, switchWetTicks: 0, integralQ16: 200 * Q16 });
    expect(step(state, 700, 1_000)).toEqual([0, 0, 0]); // p = -300, the integral would go to -100: held
    expect(dynamicOf(state).integralQ16).toBe(200 * Q16);
    expect(step(state, 1_050, 1_000)[0]).toBe(300); // 50 + 250
    const empty = tank.init(paramArray(pi(0, Q16)));
    step(empty, 0, 1_000);
    expect(dynamicOf(empty).integralQ16).toBe(0);
  });

  it('clamps the integral at 1000 permille even when not saturating', () => {
    const state = tank.init(paramArray(pi(0, 1_000 * Q16)));
    expect(step(state, 1_001, 1_000)[0]).toBe(VALVE_MAX);
    expect(dynamicOf(state).integralQ16).toBe(INTEGRAL_MAX);
  });

  it('shuts the valve and empties the integral while the alarm is raised, and starts from 0 after it clears', () => {
    const state = stateAt(pi(Q16, Q16), { pumpOn: 1, alarm: 0, switchWetTicks: 0, integralQ16: 700 * Q16 });
    expect(step(state, 1_900, 1_860)).toEqual([0, 0, 1]);
    expect(dynamicOf(state)).toEqual({ pumpOn: 0, alarm: 1, switchWetTicks: 0, integralQ16: 0 });
    expect(step(state, 1_900, 1_800)).toEqual([0, 0, 1]); // above the clear level: still raised
    expect(step(state, 1_710, 1_700)).toEqual([20, 0, 0]); // cleared: p 10 + integral 10
  });
});

/** The PI as the header specifies it, on int64_t; records the largest intermediate. */
function referencePi(kpQ16: number, kiQ16: number, integralQ16: number, errorMm: number): { valve: number; integralQ16: number; magnitudeMax: bigint } {
  let magnitudeMax = 0n;
  const track = (x: bigint): bigint => {
    const magnitude = x < 0n ? -x : x;
    if (magnitude > magnitudeMax) magnitudeMax = magnitude;
    if (BigInt.asIntN(64, x) !== x) throw new Error('int64 wrap');
    return x;
  };
  const max = BigInt(INTEGRAL_MAX);
  const clamp = (x: bigint, lo: bigint, hi: bigint): bigint => (x < lo ? lo : x > hi ? hi : x);
  const integral = BigInt(integralQ16);
  const e = BigInt(errorMm);
  const p = track(BigInt(kpQ16) * e);
  let candidate = clamp(track(integral + track(BigInt(kiQ16) * e)), 0n, max);
  let u = track(p + candidate);
  if ((u > max && candidate > integral) || (u < 0n && candidate < integral)) {
    candidate = integral;
    u = track(p + candidate);
  }
  return { valve: Number(clamp(u >> 16n, 0n, BigInt(VALVE_MAX))), integralQ16: Number(candidate), magnitudeMax };
}

const withExtremes = (min: number, max: number, ...more: number[]): fc.Arbitrary<number> =>
  fc.oneof(fc.constantFrom(min, max, ...more), fc.integer({ min, max }));
const paramsArb: fc.Arbitrary<Params> = fc.record(
  Object.fromEntries(tank.params.map((p) => [p.name, withExtremes(p.min, p.max, p.default)])) as unknown as Record<keyof Params, fc.Arbitrary<number>>,
);
/** The states step() makes under these parameters (see startStates). */
const dynamicArb = (p: Params): fc.Arbitrary<Dynamic> =>
  fc.oneof(
    fc.record({ pumpOn: fc.constantFrom(0, 1), alarm: fc.constant(0), switchWetTicks: withExtremes(0, p.switchDebounceTicks), integralQ16: withExtremes(0, INTEGRAL_MAX, 1, INTEGRAL_MAX - 1) }),
    fc.record({ pumpOn: fc.constant(0), alarm: fc.constant(1), switchWetTicks: withExtremes(0, COUNT_MAX), integralQ16: fc.constant(0) }),
  );
const paramsAndDynamicArb = paramsArb.chain((p) => fc.tuple(fc.constant(p), dynamicArb(p)));
const inputsArb = fc.tuple(withExtremes(0, LEVEL_MAX), withExtremes(0, LEVEL_MAX), fc.constantFrom(0, 1));

describe('valve PI against the int64 reference', () => {
  it('over the full declared ranges: equal outputs and state, valve in [0, 1000], intermediates < 2^36', () => {
    let open = 0;
    let shut = 0;
    let between = 0;
    fc.assert(
      fc.property(paramsAndDynamicArb, fc.array(inputsArb, { minLength: 1, maxLength: 10 }), ([p, d], steps) => {
        const state = stateAt(p, d);
        for (const [setpointMm, levelMm, wet] of steps) {
          const before = dynamicOf(state);
          const [valve, pump, alarm] = step(state, setpointMm, levelMm, wet);
          const after = dynamicOf(state);
          const want = oracle(p, before, setpointMm, levelMm, wet);
          expect([pump, alarm, after.pumpOn, after.alarm, after.switchWetTicks]).toEqual([want.pumpOn, want.alarm, want.pumpOn, want.alarm, want.switchWetTicks]);
          if (alarm === 1) {
            expect([valve, after.integralQ16]).toEqual([0, 0]);
            continue;
          }
          const ref = referencePi(p.kpQ16, p.kiQ16, before.integralQ16, setpointMm - levelMm);
          expect(ref.magnitudeMax).toBeLessThan(2n ** 36n);
          expect({ valve, integralQ16: after.integralQ16 }).toEqual({ valve: ref.valve, integralQ16: ref.integralQ16 });
          expect(loaded.outputOutOfRange(Int32Array.of(valve, pump, alarm))).toBeNull();
          if (valve === VALVE_MAX) open++;
          else if (valve === 0) shut++;
          else between++;
        }
      }),
      { numRuns: 1_500 },
    );
    // Not vacuous: both ends and the linear range were reached.
    expect(Math.min(open, shut, between)).toBeGreaterThan(50);
  });

  it('the worst case stays below the 2^36 bound (in fact below 2^35)', () => {
    // kp·e at its largest, plus the full integral: (2^24 - 1)·2000 + 1000·2^16.
    const worst = referencePi(2 ** 24 - 1, 2 ** 24 - 1, INTEGRAL_MAX, LEVEL_MAX);
    expect(worst.magnitudeMax).toBe(BigInt((2 ** 24 - 1) * LEVEL_MAX + INTEGRAL_MAX));
    expect(worst.magnitudeMax).toBeLessThan(2n ** 35n);
    expect(worst.valve).toBe(VALVE_MAX);
  });
});

// ---------------------------------------------------------------------------------------------
// State bytes: what deserialize accepts against what step() reaches.
// ---------------------------------------------------------------------------------------------

const discreteKey = (flags: number, count: number): string => `${flags}/${count}`;

/**
 * Discrete states (flags/count) reachable from init, by breadth-first search over the threshold
 * grid; kp = ki = 0 keeps the integral at 0, and the discrete part does not depend on them.
 */
function reachable(p: Params): Set<string> {
  const q: Params = { ...p, kpQ16: 0, kiQ16: 0 };
  const state = tank.init(paramArray(q));
  const bytes = new Uint8Array(tank.stateSizeBytes);
  const inputs = new Int32Array(3);
  const outputs = new Int32Array(3);
  tank.serialize(state, bytes);
  const seen = new Set([discreteKey(bytes[1]!, bytes[2]!)]);
  const queue: Uint8Array[] = [bytes.slice()];
  for (let at = 0; at < queue.length; at++) {
    for (const levelMm of levelGrid(q)) {
      for (const setpointMm of setpointGrid(q, levelMm)) {
        for (const wet of [0, 1]) {
          if (tank.deserialize(state, queue[at]!) !== null) throw new Error('refused a state step() made');
          inputs[0] = setpointMm;
          inputs[1] = levelMm;
          inputs[2] = wet;
          tank.step(state, inputs, outputs);
          tank.serialize(state, bytes);
          const key = discreteKey(bytes[1]!, bytes[2]!);
          if (!seen.has(key)) {
            seen.add(key);
            queue.push(bytes.slice());
          }
        }
      }
    }
  }
  return seen;
}

/** Discrete states deserialize accepts (integral 0): every flags byte and count. */
function accepted(p: Params): Set<string> {
  const state = tank.init(paramArray(p));
  const result = new Set<string>();
  const bytes = encode({ pumpOn: 0, alarm: 0, switchWetTicks: 0, integralQ16: 0 });
  for (let flags = 0; flags < 256; flags++) {
    for (let count = 0; count <= COUNT_MAX; count++) {
      bytes[1] = flags;
      bytes[2] = count;
      if (tank.deserialize(state, bytes) === null) result.add(discreteKey(flags, count));
    }
  }
  return result;
}

describe('state serialisation', () => {
  it('round-trips every state step() makes, and the digest is the CRC-32 of its bytes', () => {
    fc.assert(
      fc.property(paramsAndDynamicArb, ([p, d]) => {
        const state = stateAt(p, d);
        expect(dynamicOf(state)).toEqual(d);
        expect(Array.from(loaded.stateBytes(state))).toEqual(Array.from(encode(d)));
      }),
      { numRuns: 500 },
    );
    expect(loaded.digest(tank.init(paramArray(DEFAULTS)))).toBe(0x3b1bd4ca); // CRC-32 of 01 00 00 00 00 00 00
  });

  it('refuses an unknown format, unknown flag bits, pump and alarm together, an integral out of range or kept in alarm', () => {
    const p = DEFAULTS;
    const target: Dynamic = { pumpOn: 1, alarm: 0, switchWetTicks: 2, integralQ16: 123 * Q16 };
    const zero: Dynamic = { pumpOn: 0, alarm: 0, switchWetTicks: 0, integralQ16: 0 };
    const expectRefused = (bytes: Uint8Array, reason: string): void => {
      const state = stateAt(p, target);
      const before = structuredClone(state);
      expect(tank.deserialize(state, bytes)).toBe(reason);
      expect(state).toEqual(before);
    };
    for (let format = 0; format < 256; format++) {
      if (format !== STATE_FORMAT) expectRefused(encode(zero, format), `state format ${format}, expected 1`);
    }
    for (let flags = 4; flags < 256; flags++) expectRefused(encode(zero, STATE_FORMAT, flags), `flags ${flags} has unknown bits`);
    for (const integralQ16 of [-1, -0x8000_0000, INTEGRAL_MAX + 1, 0x7fff_ffff]) {
      for (const flags of [0, 1, 2]) expectRefused(encode({ ...zero, integralQ16 }, STATE_FORMAT, flags), 'integral outside [0, 1000 ‰]');
    }
    const inAlarm = 'alarm raised with the pump on or the integral not empty';
    expectRefused(encode(zero, STATE_FORMAT, 3), inAlarm);
    for (const integralQ16 of [1, Q16, INTEGRAL_MAX]) {
      expectRefused(encode({ ...zero, integralQ16 }, STATE_FORMAT, 2), inAlarm);
      expectRefused(encode({ ...zero, integralQ16 }, STATE_FORMAT, 3), inAlarm);
    }
  });

  it.each(PARAM_SETS)('accepts every discrete state step() reaches (%s)', (_name, p) => {
    const reach = reachable(p);
    expect(reach.size).toBeGreaterThan(2);
    const accept = accepted(p);
    expect([...reach].filter((key) => !accept.has(key))).toEqual([]);
  });

  it.each(PARAM_SETS)('accepts no discrete state step() cannot reach (%s)', (_name, p) => {
    const reach = reachable(p);
    const unreached = [...accepted(p)].filter((key) => !reach.has(key));
    expect(unreached).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The tank plant.
// ---------------------------------------------------------------------------------------------

const RATE_HZ = 100;

function world(seed = 1, ticks = 6_000, rateHz = RATE_HZ): TankWorld {
  return new TankWorld({ rateHz, seed, ticks });
}

/** Drives the world with one command vector for `ticks` ticks; returns the level after each. */
function drive(w: TankWorld, commands: readonly [number, number, number], ticks: number, from = 0): number[] {
  const inputs = new Int32Array(3);
  const levels: number[] = [];
  for (let tick = from; tick < from + ticks; tick++) {
    w.sense(tick, inputs);
    w.actuate(tick, Int32Array.from(commands));
    levels.push(w.levelMm);
  }
  return levels;
}

const strictlyRising = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x > xs[i - 1]!);
const strictlyFalling = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x < xs[i - 1]!);

describe('tank plant', () => {
  it("fits the tank law's channels", () => {
    expect(() => checkPlantFitsLaw(TANK_PLANT, loaded)).not.toThrow();
    expect(() => checkPlantFitsLaw(TANK_PLANT, shippedLaw('pid-q16'))).toThrow(/plant 'tank' supplies inputs/);
  });

  it('balances mass: the level change is the net inflow over the area, tick by tick', () => {
    const w = world();
    const prng = new Prng(7);
    const inputs = new Int32Array(3);
    const dtS = 1 / RATE_HZ;
    let netLitres = 0;
    const startMm = w.levelMm;
    for (let tick = 0; tick < 3_000; tick++) {
      w.sense(tick, inputs);
      const levelBefore = w.levelMm;
      w.actuate(tick, Int32Array.of(prng.nextIntInclusive(0, 1_000), prng.nextIntInclusive(0, 1), 0));
      const inflowLps = (w.valvePermille / 1_000) * VALVE_FLOW_LPS_MAX + w.pump.applied * PUMP_FLOW_LPS;
      netLitres += (inflowLps - OUTLET_LPS_PER_SQRT_MM * Math.sqrt(levelBefore)) * dtS;
      expect(w.levelMm).toBeGreaterThan(0);
      expect(w.levelMm).toBeLessThan(TANK_HEIGHT_MM); // away from the clamps, so nothing is lost
    }
    // 1 mm over TANK_AREA_M2 m² is TANK_AREA_M2 litres.
    expect(w.levelMm - startMm).toBeCloseTo(netLitres / TANK_AREA_M2, 6);
    expect(Math.abs(w.levelMm - startMm)).toBeGreaterThan(1);
  });

  it('rises with the valve open and the pump on, up to the brim; falls with both shut', () => {
    const w = world();
    expect(w.levelMm).toBe(INITIAL_LEVEL_MM);
    const filling = drive(w, [1_000, 1, 0], 6_000);
    const brim = filling.indexOf(TANK_HEIGHT_MM);
    expect(brim).toBeGreaterThan(0);
    expect(strictlyRising(filling.slice(0, brim + 1))).toBe(true);
    expect(filling.slice(brim).every((l) => l === TANK_HEIGHT_MM)).toBe(true);
    const draining = drive(w, [0, 0, 0], 4_000, 6_000);
    // The valve closes at its slew rate (2 s from fully open); until it is below the outflow the level stays at the brim.
    const slewTicks = Math.ceil((1_000 / VALVE_SLEW_PERMILLE_PER_S) * RATE_HZ);
    expect(w.valvePermille).toBe(0);
    expect(strictlyFalling(draining.slice(slewTicks))).toBe(true);
    expect(draining.at(-1)!).toBeGreaterThan(0);
    expect(draining.at(-1)!).toBeLessThan(200);
  });

  it('settles where the outflow equals the inflow: half-open valve, pump off, at (1 / 1.2)² m', () => {
    const w = world();
    const levels = drive(w, [500, 0, 0], 300 * RATE_HZ);
    const inflowLps = 0.5 * VALVE_FLOW_LPS_MAX;
    const expectedMm = (inflowLps / OUTLET_LPS_PER_SQRT_MM) ** 2;
    expect(expectedMm).toBeCloseTo(1_000 / 1.44, 6);
    expect(levels.at(-1)!).toBeCloseTo(expectedMm, 1);
  });

  it('reads the float switch wet at and above FLOAT_SWITCH_MM, and the level within its noise', () => {
    const w = world();
    const inputs = new Int32Array(3);
    const offsets = new Set<number>();
    for (const [levelMm, wet] of [[0, 0], [1_000, 0], [FLOAT_SWITCH_MM - 0.001, 0], [FLOAT_SWITCH_MM, 1], [1_950.5, 1], [TANK_HEIGHT_MM, 1]] as const) {
      w.levelMm = levelMm;
      for (let i = 0; i < 50; i++) {
        w.sense(i, inputs);
        expect([levelMm, inputs[2]]).toEqual([levelMm, wet]);
        const offset = inputs[1]! - Math.round(levelMm);
        expect(Math.abs(offset)).toBeLessThanOrEqual(LEVEL_NOISE_MM);
        expect(inputs[1]!).toBeGreaterThanOrEqual(0);
        expect(inputs[1]!).toBeLessThanOrEqual(TANK_HEIGHT_MM);
        offsets.add(offset);
      }
    }
    expect(offsets.size).toBe(2 * LEVEL_NOISE_MM + 1); // the noise is there, and spans its range
  });

  it('gives the setpoints 800, 1200 and 600 mm, a third of the run each', () => {
    const w = world(1, 300);
    const inputs = new Int32Array(3);
    const at = (tick: number): number => {
      w.sense(tick, inputs);
      return inputs[0]!;
    };
    expect([0, 99, 100, 199, 200, 299, 1_000].map(at)).toEqual([800, 800, 1_200, 1_200, 600, 600, 600]);
  });
});

describe('tank plant drives', () => {
  it('the watchdog takes every drive to its safe value (valve 0, pump 0, alarm 1) after 0.1 s without a valid command', () => {
    const w = world();
    drive(w, [800, 1, 0], 100);
    expect([w.valve.applied, w.pump.applied, w.alarm.applied]).toEqual([800, 1, 0]);
    const watchdogTicks = 0.1 * RATE_HZ;
    // Out-of-range commands are refused by the drives: silence as far as the watchdog is concerned.
    drive(w, [1_001, 2, -1], watchdogTicks - 1, 100);
    expect([w.valve.applied, w.pump.applied, w.alarm.applied]).toEqual([800, 1, 0]);
    expect(w.actuatorCounters).toEqual({ watchdogTrips: 0, commandsRejected: 3 * (watchdogTicks - 1) });
    drive(w, [1_001, 2, -1], 1, 100 + watchdogTicks - 1);
    expect([w.valve.applied, w.pump.applied, w.alarm.applied]).toEqual([0, 0, 1]);
    expect([w.valve.safeState, w.pump.safeState, w.alarm.safeState]).toEqual([true, true, true]);
    expect(w.actuatorCounters).toEqual({ watchdogTrips: 3, commandsRejected: 3 * watchdogTicks });
    // Latched: valid commands do not reopen a tripped drive.
    drive(w, [800, 1, 0], 10, 200);
    expect([w.valve.applied, w.pump.applied, w.alarm.applied]).toEqual([0, 0, 1]);
  });

  it('trips one drive alone when only its commands go bad', () => {
    const w = world();
    drive(w, [800, 1, 0], 10);
    drive(w, [800, 7, 0], 0.1 * RATE_HZ, 10);
    expect([w.valve.applied, w.pump.applied, w.alarm.applied]).toEqual([800, 0, 0]);
    expect(w.actuatorCounters.watchdogTrips).toBe(1);
  });

  it('enterSafeState puts every drive at its safe value at once, and the valve then closes at its slew rate', () => {
    const w = world();
    drive(w, [1_000, 1, 0], 300);
    expect(w.valvePermille).toBe(1_000);
    w.enterSafeState();
    expect([w.valve.applied, w.pump.applied, w.alarm.applied]).toEqual([0, 0, 1]);
    drive(w, [1_000, 1, 0], 1, 300);
    expect(w.valvePermille).toBeCloseTo(1_000 - VALVE_SLEW_PERMILLE_PER_S / RATE_HZ, 9);
  });

  it('a ChannelDrive holds the last command, trips after watchdogTicks silent ticks, latches until rearm', () => {
    const d = new ChannelDrive({ name: 'x', min: -5, max: 5, safe: 2, watchdogTicks: 3 });
    expect([d.applied, d.safeState]).toEqual([2, false]);
    d.tick(-5);
    d.tick(null);
    d.tick(null);
    expect([d.applied, d.safeState, d.watchdogTrips]).toEqual([-5, false, 0]);
    d.tick(4); // a command resets the count
    d.tick(null);
    d.tick(6); // out of range: refused, counts as silence
    expect([d.applied, d.commandsRejected]).toEqual([4, 1]);
    d.tick(1.5); // not an integer: refused
    expect([d.applied, d.safeState, d.watchdogTrips, d.commandsRejected]).toEqual([2, true, 1, 2]);
    d.tick(5);
    expect(d.applied).toBe(2);
    d.rearm();
    d.tick(5);
    expect([d.applied, d.safeState]).toEqual([5, false]);
    expect(() => new ChannelDrive({ name: 'y', min: 0, max: 1, safe: 2, watchdogTicks: 1 })).toThrow(/safe value outside its range/);
    expect(() => new ChannelDrive({ name: 'y', min: 0, max: 1, safe: 0, watchdogTicks: 0 })).toThrow(/watchdogTicks/);
  });
});

describe('tank plant determinism and the closed loop', () => {
  /** The tank law on the tank plant; returns the sensed inputs and the true levels of every tick. */
  function closedLoop(seed: number, rateHz: number, ticks: number): { inputs: Int32Array; levels: Float64Array; outputs: Int32Array; w: TankWorld } {
    const w = world(seed, ticks, rateHz);
    const state = tank.init(loaded.paramsForRate(rateHz));
    const inputs = new Int32Array(3 * ticks);
    const outputs = new Int32Array(3 * ticks);
    const levels = new Float64Array(ticks);
    for (let tick = 0; tick < ticks; tick++) {
      const i = inputs.subarray(3 * tick, 3 * tick + 3);
      const o = outputs.subarray(3 * tick, 3 * tick + 3);
      w.sense(tick, i);
      tank.step(state, i, o);
      w.actuate(tick, o);
      levels[tick] = w.levelMm;
    }
    return { inputs, levels, outputs, w };
  }

  it('is a pure function of the seed: the same seed gives bit-identical runs, another seed other readings', () => {
    const a = closedLoop(11, RATE_HZ, 3_000);
    const b = closedLoop(11, RATE_HZ, 3_000);
    expect(Array.from(b.inputs)).toEqual(Array.from(a.inputs));
    expect(b.levels.every((l, i) => Object.is(l, a.levels[i]))).toBe(true);
    const c = closedLoop(12, RATE_HZ, 3_000);
    expect(Array.from(c.inputs)).not.toEqual(Array.from(a.inputs));
  });

  it('the seed reaches the readings only: the same commands give the same levels under any seed', () => {
    const a = world(1);
    const b = world(2);
    const inputsA = new Int32Array(3);
    const inputsB = new Int32Array(3);
    const prng = new Prng(3);
    let readingsDiffer = false;
    for (let tick = 0; tick < 2_000; tick++) {
      a.sense(tick, inputsA);
      b.sense(tick, inputsB);
      if (inputsA[1] !== inputsB[1]) readingsDiffer = true;
      const commands = Int32Array.of(prng.nextIntInclusive(0, 1_000), prng.nextIntInclusive(0, 1), 0);
      a.actuate(tick, commands);
      b.actuate(tick, commands);
      expect(Object.is(a.levelMm, b.levelMm)).toBe(true);
    }
    expect(readingsDiffer).toBe(true);
  });

  it('holds the level within 10 mm of each setpoint over the last 10 s of its minute, without an alarm', () => {
    const ticks = 180 * RATE_HZ;
    const { levels, outputs, w } = closedLoop(1, RATE_HZ, ticks);
    const third = ticks / 3;
    for (const [segment, setpointMm] of [800, 1_200, 600].entries()) {
      let errorMaxMm = 0;
      for (let tick = (segment + 1) * third - 10 * RATE_HZ; tick < (segment + 1) * third; tick++) errorMaxMm = Math.max(errorMaxMm, Math.abs(levels[tick]! - setpointMm));
      expect({ setpointMm, within10: errorMaxMm < 10 }).toEqual({ setpointMm, within10: true });
    }
    let alarms = 0;
    let pumpTicks = 0;
    for (let tick = 0; tick < ticks; tick++) {
      alarms += outputs[3 * tick + 2]!;
      pumpTicks += outputs[3 * tick + 1]!;
    }
    expect(alarms).toBe(0);
    expect(pumpTicks).toBeGreaterThan(0); // the steps up need the pump
    expect(w.actuatorCounters).toEqual({ watchdogTrips: 0, commandsRejected: 0 });
  });
});
