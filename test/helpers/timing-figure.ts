/**
 * Timing claims of the real-time tests: how long a recovery took, how many deadlines a machine
 * stall cost, whether a replica was late when a test needed it late. They measure the machine as
 * much as tmr, so `npm test` reports them as figures and `npm run soak` (TMR_SOAK=1) holds them to
 * their bounds. What holds whatever the scheduler does (no unsafe command, no minority command,
 * the log replays bit for bit) stays an assertion everywhere.
 */
import { expect } from 'vitest';

export const SOAK = process.env.TMR_SOAK === '1';

/** A count or duration with an upper bound. */
export function timingFigure(label: string, measured: number, bound: number, context: unknown): void {
  if (SOAK) expect(measured, `${label}: ${JSON.stringify(context)}`).toBeLessThanOrEqual(bound);
  else console.info(`timing figure (npm run soak holds it to <= ${bound}): ${label} = ${measured}; ${JSON.stringify(context)}`);
}

/** A count with a lower bound. */
export function timingFigureAtLeast(label: string, measured: number, bound: number, context: unknown): void {
  if (SOAK) expect(measured, `${label}: ${JSON.stringify(context)}`).toBeGreaterThanOrEqual(bound);
  else console.info(`timing figure (npm run soak holds it to >= ${bound}): ${label} = ${measured}; ${JSON.stringify(context)}`);
}
