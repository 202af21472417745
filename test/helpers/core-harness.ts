/**
 * A core under test, fed by hand: a three-replica, two-channel configuration, replies written
 * into the observations, and a harness that steps one tick at a time. Shared by the core's tests.
 */
import { createCoreState, createObservations, resetObservations, step, type CoreConfig, type CoreState, type Observations } from '../../src/core/tmr-core.js';

export const CONFIG: CoreConfig = {
  replicaCount: 3,
  channels: [
    { name: 'commandMv', kind: 'exact', toleranceCounts: 0, min: -12_000, max: 12_000, safe: 0 },
    { name: 'rate', kind: 'midValue', toleranceCounts: 2, min: -(1 << 20), max: 1 << 20, safe: 0 },
  ],
  deadlineMissLimit: 3,
  errorDensityLimit: 3,
  quorumLossTicksMax: 2,
  simplexPolicy: 'safe',
  probationTicks: 4,
  commonModeTicksMax: 20,
};

/** A reply: [command, rate, digest], or null for no reply by the deadline. */
export type Reply = [number, number, number] | null;

/** What else the shell saw this tick, by replica: late replies, corrupt frames, dead links, probation starts. */
export interface Extra {
  readonly late?: number[];
  readonly corrupt?: number[];
  readonly down?: number[];
  readonly start?: number[];
  /** The host says it was late this tick. */
  readonly hostLate?: boolean;
  /** Replicas the shell cold-started before this tick. */
  readonly coldStart?: number[];
}

export function feed(obs: Observations, replies: Reply[], extra: Extra = {}): void {
  resetObservations(obs);
  replies.forEach((reply, i) => {
    if (reply === null) return;
    obs.onTime[i] = 1;
    obs.outputs[i * 2] = reply[0];
    obs.outputs[i * 2 + 1] = reply[1];
    obs.digests[i] = reply[2];
  });
  for (const i of extra.late ?? []) obs.lateReplies[i] = 1;
  for (const i of extra.corrupt ?? []) obs.protocolErrors[i] = 1;
  for (const i of extra.down ?? []) obs.linkDown[i] = 1;
  for (const i of extra.start ?? []) obs.probationStart[i] = 1;
  obs.hostLate = extra.hostLate ?? false;
  for (const i of extra.coldStart ?? []) obs.coldStart[i] = 1;
}

export function harness(config: CoreConfig = CONFIG): { state: CoreState; obs: Observations; tick: (replies: Reply[], extra?: Extra) => ReturnType<typeof step> } {
  const state = createCoreState(config);
  const obs = createObservations(config.replicaCount, config.channels.length);
  let t = 0;
  return {
    state,
    obs,
    tick: (replies, extra) => {
      feed(obs, replies, extra);
      return step(state, obs, t++);
    },
  };
}
