import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createVoteResult, popcount, requiredAgreeingFor, voteExact, voteMidValue } from '../../src/core/voter.js';

/** Every replica either misses (null) or answers one of a few values. */
const CHOICES = [null, 10, 20, 30] as const;

function* combinations(n: number): Generator<(number | null)[]> {
  const total = CHOICES.length ** n;
  for (let k = 0; k < total; k++) {
    const combo: (number | null)[] = [];
    let rest = k;
    for (let i = 0; i < n; i++) {
      combo.push(CHOICES[rest % CHOICES.length]!);
      rest = Math.floor(rest / CHOICES.length);
    }
    yield combo;
  }
}

/** Independent oracle: count each value's supporters; the one with >= required wins. */
function oracleExact(combo: (number | null)[], required: number): { ok: boolean; value?: number; supporters?: number[] } {
  const counts = new Map<number, number[]>();
  combo.forEach((v, i) => {
    if (v !== null) counts.set(v, [...(counts.get(v) ?? []), i]);
  });
  const winners = [...counts.entries()].filter(([, who]) => who.length >= required);
  expect(winners.length).toBeLessThanOrEqual(1);
  if (winners.length === 0) return { ok: false };
  return { ok: true, value: winners[0]![0], supporters: winners[0]![1] };
}

function prepare(combo: (number | null)[]): { values: Float64Array; mask: number } {
  const values = new Float64Array(combo.length);
  let mask = 0;
  combo.forEach((v, i) => {
    if (v !== null) {
      values[i] = v;
      mask |= 1 << i;
    } else {
      values[i] = -999_999; // garbage that must be ignored
    }
  });
  return { values, mask };
}

describe('exact voter', () => {
  for (const n of [3, 5]) {
    it(`matches the oracle for all ${CHOICES.length ** n} agree/disagree/missing combinations of ${n} replicas`, () => {
      const result = createVoteResult();
      let checked = 0;
      let wins = 0;
      for (const combo of combinations(n)) {
        const { values, mask } = prepare(combo);
        const required = requiredAgreeingFor(n);
        voteExact(values, mask, n, required, result);
        const expected = oracleExact(combo, required);
        expect(result.ok, `combo ${JSON.stringify(combo)}`).toBe(expected.ok);
        if (expected.ok) {
          wins++;
          expect(result.value).toBe(expected.value);
          const supporters = expected.supporters!.reduce((m, i) => m | (1 << i), 0);
          expect(result.agreeMask).toBe(supporters);
        }
        checked++;
      }
      expect(checked).toBe(CHOICES.length ** n);
      expect(wins).toBeGreaterThan(0);
      expect(wins).toBeLessThan(checked);
    });
  }

  it('the 3-replica table has the expected shape: 2-of-3 wins, a lone replica never does', () => {
    const result = createVoteResult();
    // Spot rows of the table, written out by hand.
    const rows: [(number | null)[], boolean, number?][] = [
      [[10, 10, 10], true, 10],
      [[10, 10, 20], true, 10],
      [[20, 10, 10], true, 10],
      [[10, 20, 30], false],
      [[10, null, 10], true, 10],
      [[10, null, 20], false],
      [[10, null, null], false],
      [[null, null, null], false],
    ];
    for (const [combo, ok, value] of rows) {
      const { values, mask } = prepare(combo);
      voteExact(values, mask, 3, 2, result);
      expect(result.ok, JSON.stringify(combo)).toBe(ok);
      if (ok) expect(result.value).toBe(value);
    }
  });

  it('duplex (two in service) needs both', () => {
    const result = createVoteResult();
    expect(requiredAgreeingFor(2)).toBe(2);
    expect(voteExact([5, 5, 0], 0b011, 3, 2, result).ok).toBe(true);
    expect(voteExact([5, 6, 0], 0b011, 3, 2, result).ok).toBe(false);
    expect(voteExact([5, 0, 0], 0b001, 3, 2, result).ok).toBe(false);
  });

  it('property: for any odd N up to 15, a winning value always has a strict majority behind it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }).map((k) => 2 * k + 1),
        fc.array(fc.option(fc.integer({ min: -3, max: 3 }), { nil: null }), { minLength: 15, maxLength: 15 }),
        (n, raw) => {
          const combo = raw.slice(0, n);
          const { values, mask } = prepare(combo);
          const result = createVoteResult();
          voteExact(values, mask, n, requiredAgreeingFor(n), result);
          if (result.ok) {
            expect(popcount(result.agreeMask) * 2).toBeGreaterThan(n);
            for (let i = 0; i < n; i++) if (result.agreeMask & (1 << i)) expect(combo[i]).toBe(result.value);
          } else {
            expect(oracleExact(combo, requiredAgreeingFor(n)).ok).toBe(false);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('mid-value select', () => {
  it('selects the median and accepts it when a majority is within tolerance', () => {
    const result = createVoteResult();
    const scratch = new Float64Array(5);
    voteMidValue([100, 103, 250], 0b111, 3, 2, 5, scratch, result);
    expect(result).toEqual({ ok: true, value: 103, agreeMask: 0b011 });
    voteMidValue([100, 103, 250], 0b111, 3, 2, 2, scratch, result);
    expect(result.ok).toBe(false); // only 103 itself within 2 of 103
    expect(result.value).toBe(103);
    voteMidValue([-7, 400, -5, 0, -6], 0b11111, 5, 3, 2, scratch, result);
    expect(result).toEqual({ ok: true, value: -5, agreeMask: 0b10101 });
  });

  it('ignores missing replicas and takes the lower median of an even count', () => {
    const result = createVoteResult();
    const scratch = new Float64Array(3);
    voteMidValue([100, 999, 104], 0b101, 3, 2, 4, scratch, result);
    expect(result).toEqual({ ok: true, value: 100, agreeMask: 0b101 });
    voteMidValue([100, 999, 104], 0b101, 3, 2, 3, scratch, result);
    expect(result.ok).toBe(false);
  });

  it('exhaustive over 3 replicas: with tolerance 0 it agrees with the exact voter on ok and value', () => {
    const exact = createVoteResult();
    const mid = createVoteResult();
    const scratch = new Float64Array(3);
    for (const combo of combinations(3)) {
      const { values, mask } = prepare(combo);
      voteExact(values, mask, 3, 2, exact);
      voteMidValue(values, mask, 3, 2, 0, scratch, mid);
      expect(mid.ok, JSON.stringify(combo)).toBe(exact.ok);
      if (exact.ok) expect(mid.value).toBe(exact.value);
    }
  });

  it('property: a single outlier, however far, never moves the selected value outside the good pair', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10_000, max: 10_000 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: -(2 ** 30), max: 2 ** 30 }), fc.integer({ min: 0, max: 2 }), (good, spread, outlier, outlierIndex) => {
        const values = [good, good + spread, good];
        values[outlierIndex] = outlier;
        const result = createVoteResult();
        voteMidValue(values, 0b111, 3, 2, 3, new Float64Array(3), result);
        const honest = values.filter((_, i) => i !== outlierIndex);
        expect(result.value).toBeGreaterThanOrEqual(Math.min(...honest));
        expect(result.value).toBeLessThanOrEqual(Math.max(...honest));
        expect(result.ok).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
