import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import {
  compileProfile,
  defaultProfile,
  PROFILE_SEGMENTS_MAX,
  ProfileError,
  validateProfile,
  type ProfileSegment,
  type SetpointProfile,
} from '../../src/sim/setpoint-profile.js';
import { POSITION_MILLIDEG_LIMIT } from '../../src/sim/plant.js';

/** trunc(a / b) in BigInt: the reference the profile's double arithmetic must match exactly. */
function truncDiv(a: number, b: number): number {
  return Number(BigInt(a) / BigInt(b));
}

function valuesOf(segments: readonly ProfileSegment[], ticks: number, initialMilliDeg = 0): number[] {
  const profile = compileProfile(segments, initialMilliDeg);
  return Array.from({ length: ticks }, (_, tick) => profile.setpointAt(tick));
}

describe('profile values', () => {
  it('gives the exact value on every tick across every kind of segment boundary', () => {
    const segments: ProfileSegment[] = [
      { kind: 'hold', durationTicks: 2 },
      { kind: 'step', toMilliDeg: 1_000, durationTicks: 3 },
      { kind: 'ramp', toMilliDeg: -1_000, durationTicks: 3 },
      { kind: 'triangle', amplitudeMilliDeg: 800, periodTicks: 8, durationTicks: 10 },
      { kind: 'hold', durationTicks: 1 },
      { kind: 'ramp', toMilliDeg: -995, durationTicks: 4 },
    ];
    const expected = [
      500, 500, // hold at the initial value
      1_000, 1_000, 1_000, // step
      334, -333, -1_000, // ramp 1000 → −1000: 1000 + trunc(−2000·k/3) for k = 1, 2, 3
      -1_000, -600, -200, -600, -1_000, -1_400, -1_800, -1_400, -1_000, -600, // triangle around −1000
      -600, // hold continues from where the triangle ended
      -698, -797, -896, -995, // ramp −600 → −995: −600 + trunc(−395·k/4) = −98, −197, −296, −395
    ];
    const profile = compileProfile(segments, 500);
    expect(profile.durationTicks).toBe(23);
    expect(profile.finalMilliDeg).toBe(-995);
    expect(valuesOf(segments, 23, 500)).toEqual(expected);
    // after the end: the final value, forever
    expect(profile.setpointAt(23)).toBe(-995);
    expect(profile.setpointAt(2 ** 40)).toBe(-995);
  });

  it('answers random-order lookups the same as sequential ones', () => {
    const segments: ProfileSegment[] = Array.from({ length: 200 }, (_, i) => (
      i % 3 === 0
        ? { kind: 'ramp', toMilliDeg: (i * 7_919) % 100_000 - 50_000, durationTicks: 1 + (i % 17) }
        : i % 3 === 1
          ? { kind: 'triangle', amplitudeMilliDeg: 1_000, periodTicks: 4 + (i % 5), durationTicks: 3 + (i % 11) }
          : { kind: 'step', toMilliDeg: -i * 100, durationTicks: 1 + (i % 4) }
    ));
    const sequential = valuesOf(segments, 3_000);
    const profile = compileProfile(segments);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2_999 }), { minLength: 1, maxLength: 50 }), (ticks) =>
        ticks.every((tick) => profile.setpointAt(tick) === sequential[tick])),
    );
  });

  it('rejects a tick that is negative or not an integer', () => {
    const profile = compileProfile([{ kind: 'hold', durationTicks: 5 }]);
    expect(() => profile.setpointAt(-1)).toThrow(TmrAssertionError);
    expect(() => profile.setpointAt(1.5)).toThrow(TmrAssertionError);
  });
});

describe('ramp integer exactness', () => {
  it('matches trunc((to − from)·(k + 1) / D) exactly, ends on `to`, and is monotonic (property)', () => {
    const limit = POSITION_MILLIDEG_LIMIT;
    fc.assert(
      fc.property(
        fc.integer({ min: -limit, max: limit }),
        fc.integer({ min: -limit, max: limit }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }),
        (from, to, durationTicks, fractions) => {
          const profile = compileProfile([{ kind: 'step', toMilliDeg: from, durationTicks: 1 }, { kind: 'ramp', toMilliDeg: to, durationTicks }]);
          if (profile.setpointAt(durationTicks) !== to) return false;
          const ks = fractions.map((f) => Math.min(durationTicks - 1, Math.floor(f * durationTicks))).sort((a, b) => a - b);
          let previous = from;
          for (const k of ks) {
            const value = profile.setpointAt(1 + k);
            if (value !== from + Number((BigInt(to - from) * BigInt(k + 1)) / BigInt(durationTicks))) return false;
            if (to >= from ? value < previous : value > previous) return false;
            previous = value;
          }
          return true;
        },
      ),
    );
  });

  it('mirrors a ramp down onto a ramp up (truncation towards zero, no −0)', () => {
    const up = valuesOf([{ kind: 'ramp', toMilliDeg: 1_000, durationTicks: 7 }], 7);
    const down = valuesOf([{ kind: 'ramp', toMilliDeg: -1_000, durationTicks: 7 }], 7);
    expect(down).toEqual(up.map((v) => (v === 0 ? 0 : -v)));
    expect(down.every((v) => !Object.is(v, -0))).toBe(true);
    expect(up).toEqual([142, 285, 428, 571, 714, 857, 1_000]);
  });
});

/** Property over a periodic segment after a one-tick step to its centre: (centre, amplitude, period) → ok. */
function periodicProperty(kind: 'sine' | 'triangle', check: (profile: SetpointProfile, centre: number, amplitude: number, periodTicks: number) => boolean): void {
  fc.assert(
    fc.property(
      fc.integer({ min: -200_000, max: 200_000 }),
      fc.integer({ min: 0, max: 300_000 }),
      fc.integer({ min: 2, max: 10_000 }),
      (centre, amplitude, periodTicks) => {
        const profile = compileProfile([
          { kind: 'step', toMilliDeg: centre, durationTicks: 1 },
          { kind, amplitudeMilliDeg: amplitude, periodTicks, durationTicks: 2 * periodTicks },
        ]);
        return check(profile, centre, amplitude, periodTicks);
      },
    ),
  );
}

describe('sine', () => {
  it('stays within 1 m° of A·sin(2πk/P), within centre ± amplitude, odd-symmetric about the half period', () => {
    periodicProperty('sine', (profile, centre, amplitude, periodTicks) => {
      for (let p = 0; p < periodTicks; p += Math.max(1, Math.floor(periodTicks / 41))) {
        const got = profile.setpointAt(1 + p);
        if (!Number.isInteger(got) || got !== profile.setpointAt(1 + p + periodTicks)) return false;
        if (Math.abs(got - centre - amplitude * Math.sin((2 * Math.PI * p) / periodTicks)) > 1) return false;
        if (Math.abs(got - centre) > amplitude) return false;
        if (p > 0 && got - centre !== -(profile.setpointAt(1 + periodTicks - p) - centre)) return false;
      }
      return true;
    });
  });

  it('peaks at exactly centre ± amplitude when 4 divides the period', () => {
    const profile = compileProfile([{ kind: 'sine', amplitudeMilliDeg: 90_000, periodTicks: 400, durationTicks: 400 }], 1_000);
    expect([0, 100, 200, 300].map((t) => profile.setpointAt(t))).toEqual([1_000, 91_000, 1_000, -89_000]);
  });
});

describe('triangle', () => {
  it('matches the exact triangle, stays within centre ± amplitude and hits the peaks when 4 divides the period', () => {
    periodicProperty('triangle', (profile, centre, amplitude, periodTicks) => {
      for (let p = 0; p < periodTicks; p += Math.max(1, Math.floor(periodTicks / 37))) {
        const four = 4 * p;
        const n = four < periodTicks ? four : four < 3 * periodTicks ? 2 * periodTicks - four : four - 4 * periodTicks;
        const expected = centre + truncDiv(amplitude * n, periodTicks);
        if (profile.setpointAt(1 + p) !== expected || profile.setpointAt(1 + p + periodTicks) !== expected) return false;
        if (Math.abs(expected - centre) > amplitude) return false;
      }
      if (periodTicks % 4 === 0) {
        if (profile.setpointAt(1 + periodTicks / 4) !== centre + amplitude) return false;
        if (profile.setpointAt(1 + (3 * periodTicks) / 4) !== centre - amplitude) return false;
      }
      return true;
    });
  });
});

describe('profile validation', () => {
  const cases: [string, unknown[], number, number, string][] = [
    ['an empty list', [], 0, -1, 'segments'],
    ['a zero duration', [{ kind: 'hold', durationTicks: 5 }, { kind: 'hold', durationTicks: 0 }], 0, 1, 'durationTicks'],
    ['a fractional duration', [{ kind: 'step', toMilliDeg: 0, durationTicks: 1.5 }], 0, 0, 'durationTicks'],
    ['a missing duration', [{ kind: 'step', toMilliDeg: 0 }], 0, 0, 'durationTicks'],
    ['an unknown kind', [{ kind: 'square', durationTicks: 10 }], 0, 0, 'kind'],
    ['a segment that is not an object', [{ kind: 'hold', durationTicks: 1 }, null], 0, 1, 'kind'],
    ['a step target out of range', [{ kind: 'step', toMilliDeg: POSITION_MILLIDEG_LIMIT + 1, durationTicks: 1 }], 0, 0, 'toMilliDeg'],
    ['a ramp target that is a string', [{ kind: 'ramp', toMilliDeg: '5', durationTicks: 1 }], 0, 0, 'toMilliDeg'],
    ['a period of 1', [{ kind: 'triangle', amplitudeMilliDeg: 10, periodTicks: 1, durationTicks: 4 }], 0, 0, 'periodTicks'],
    ['a negative amplitude', [{ kind: 'triangle', amplitudeMilliDeg: -1, periodTicks: 4, durationTicks: 4 }], 0, 0, 'amplitudeMilliDeg'],
    [
      'a triangle leaving the range',
      [{ kind: 'step', toMilliDeg: 500_000, durationTicks: 1 }, { kind: 'triangle', amplitudeMilliDeg: 30_000, periodTicks: 4, durationTicks: 4 }],
      0, 1, 'amplitudeMilliDeg',
    ],
    ['an initial value out of range', [{ kind: 'hold', durationTicks: 1 }], -POSITION_MILLIDEG_LIMIT - 1, -1, 'initialMilliDeg'],
    ['a profile beyond uint32 ticks', [{ kind: 'hold', durationTicks: 2 ** 31 - 1 }, { kind: 'hold', durationTicks: 2 ** 31 - 1 }, { kind: 'hold', durationTicks: 3 }], 0, 2, 'durationTicks'],
  ];
  it.each(cases)('rejects %s, naming the segment and the field', (_name, segments, initial, segmentIndex, field) => {
    const list = segments as ProfileSegment[];
    expect(validateProfile(list, initial)).toMatchObject({ segmentIndex, field });
    let thrown: unknown;
    try {
      compileProfile(list, initial);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProfileError);
    expect(thrown).toMatchObject({ name: 'ProfileError', segmentIndex, field });
    expect((thrown as Error).message).toContain(field);
  });

  it('rejects too many segments and accepts the maximum', () => {
    const many = (n: number): ProfileSegment[] => Array.from({ length: n }, () => ({ kind: 'hold', durationTicks: 1 }));
    expect(validateProfile(many(PROFILE_SEGMENTS_MAX))).toBeNull();
    expect(validateProfile(many(PROFILE_SEGMENTS_MAX + 1))).toMatchObject({ segmentIndex: -1, field: 'segments' });
  });
});

describe('default profile', () => {
  it('covers 0 → +45° → −30° → ramp to +60° → triangle, scaled to the run', () => {
    const rateHz = 200;
    const ticks = 2_000;
    const profile = defaultProfile(rateHz, ticks);
    expect(profile.durationTicks).toBe(ticks);
    expect(profile.setpointAt(0)).toBe(0);
    expect(profile.setpointAt(99)).toBe(0);
    expect(profile.setpointAt(100)).toBe(45_000);
    expect(profile.setpointAt(499)).toBe(45_000);
    expect(profile.setpointAt(500)).toBe(-30_000);
    expect(profile.setpointAt(899)).toBe(-30_000);
    expect(profile.setpointAt(1_299)).toBe(60_000);
    expect(profile.setpointAt(1_300)).toBe(60_000); // triangle starts at its centre
    expect(profile.setpointAt(1_350)).toBe(75_000); // a quarter of the 1 s period: +15°
    expect(profile.setpointAt(1_450)).toBe(45_000); // three quarters: −15°
    let previous = profile.setpointAt(900);
    for (let tick = 901; tick < 1_300; tick++) {
      const value = profile.setpointAt(tick);
      expect(value).toBeGreaterThanOrEqual(previous);
      previous = value;
    }
  });

  it('fits any run length and rate without leaving the position range', () => {
    for (const rateHz of [50, 100, 1_000, 2_000]) {
      for (const ticks of [1, 2, 3, 7, 19, 20, 21, 100, 12_345]) {
        const profile = defaultProfile(rateHz, ticks);
        expect(profile.durationTicks).toBe(ticks);
        for (let tick = 0; tick < ticks + 2; tick++) {
          expect(Math.abs(profile.setpointAt(tick))).toBeLessThanOrEqual(POSITION_MILLIDEG_LIMIT);
        }
      }
    }
    expect(() => defaultProfile(200, 0)).toThrow(TmrAssertionError);
  });
});
