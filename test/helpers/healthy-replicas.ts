/**
 * What a real-time run shows of its healthy replicas whatever the scheduler does: they never
 * disagree with the vote nor send another state digest (they run the same law on the same inputs,
 * and only on-time replies are voted), and one that is out of service is out for timing, which a
 * busy machine can cause on its own, never for what it said. How many the machine took out is a
 * timing figure (npm run soak holds it to 0).
 */
import { expect } from 'vitest';
import type { RunSummary } from '../../src/loop/loop-model.js';
import { timingFigure } from './timing-figure.js';

/** Exclusion reasons a busy machine alone can give a healthy replica (null: still in service). */
export const TIMING_EXCLUSION_REASONS: readonly (string | null)[] = [null, 'DEADLINE_MISSED', 'LATE_REPLY'];

/** Checks replicas `replicaIndexes` of `run` as healthy ones; `command` reproduces the run. */
export function expectHealthyReplicas(run: RunSummary, replicaIndexes: readonly number[], command: string): void {
  for (const i of replicaIndexes) {
    const replica = run.replicas[i]!;
    const context = `${command}: replica ${i}: ${JSON.stringify(replica)}`;
    expect(replica.counters.disagreements + replica.counters.digestMismatches, `a healthy replica disagreed with the vote (${context})`).toBe(0);
    expect(TIMING_EXCLUSION_REASONS, `a healthy replica is out for a reason a busy machine cannot cause (${context})`).toContain(replica.reason);
  }
  const out = replicaIndexes.filter((i) => run.replicas[i]!.state !== 'inService');
  timingFigure(`healthy replicas the machine took out of service (${command})`, out.length, 0, out.map((i) => run.replicas[i]));
}
