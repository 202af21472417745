/**
 * The real runner in simulated time: `runRealtime` itself (links, handshake, warm-up, deadlines,
 * quorum grace, common-mode episodes, recovery with restarts and state transfer, the kill switch)
 * over seeded in-memory links to replica endpoints (the same ReplicaEndpoint a Node replica process
 * runs), all on one discrete-event scheduler. Link delay, jitter, loss and bit errors, stalls of
 * the host, of one replica or of every replica at once are drawn from a seed, so a run is a pure
 * function of its options and its timing environment: `tmr campaign --stack full` runs seeds
 * through it, and a failure replays exactly.
 *
 * What stands in for the machine: a replica "process" is an endpoint whose events are the
 * scheduler's, owned by `replica i` (a SIGSTOP holds them, a SIGCONT releases them); a crash or an
 * isolation drops its link (the host sees the link go down, as a process exit); a restart or a
 * standby is a fresh endpoint after startMs.
 */
import { assert } from '../core/assert.js';
import { deriveSeed, Prng } from '../core/prng.js';
import type { LoadedLaw } from '../law/law-runtime.js';
import type { Clock, Timer } from '../core/clock.js';
import type { LoopBench, LoopModel } from '../loop/loop-model.js';
import type { StepResult } from '../core/tmr-core.js';
import { runRealtime, type RealtimeHooks, type RealtimeOptions, type RealtimeSummary } from '../runtime/realtime-runner.js';
import type { ReplicaProvider, StartedReplica } from '../runtime/replica-kinds.js';
import { HEARTBEAT_PERIOD_MS, ReplicaEndpoint } from '../replica/replica-endpoint.js';
import { decodeMessage, encodeMessage } from '../protocol/codec.js';
import { ERROR_CODE } from '../protocol/messages.js';
import { SimScheduler } from './sim-clock.js';
import { createSimLink } from './sim-link.js';

/** One replica's link, the same both ways. */
export interface LinkProfile {
  readonly delayMs: number;
  readonly jitterMs: number;
  readonly lossProbability: number;
  readonly bitErrorProbability: number;
}

/** A stretch of simulated time a process does nothing (its timers and I/O wait, then run at once). */
export interface StallWindow {
  readonly atMs: number;
  readonly durationMs: number;
}

/** Everything about time and the links that a seed decides, beside the fault schedule. */
export interface TimingEnvironment {
  /** Per replica. */
  readonly links: readonly LinkProfile[];
  readonly hostStalls: readonly StallWindow[];
  readonly replicaStalls: readonly (StallWindow & { readonly replica: number })[];
  /** Time a restarted replica or a standby takes to start, ms. */
  readonly startMs: number;
  /**
   * Replicas built without test hooks, as production firmware is: every `inject` is answered with
   * `error` UNEXPECTED_MESSAGE and changes nothing (PROTOCOL.md 13). None when absent.
   */
  readonly withoutTestHooks?: readonly number[];
}

/** Links of a quiet machine: a fixed small delay, nothing lost, nobody stalled. */
export function quietEnvironment(replicaCount: number): TimingEnvironment {
  return {
    links: Array.from({ length: replicaCount }, () => ({ delayMs: 0.1, jitterMs: 0, lossProbability: 0, bitErrorProbability: 0 })),
    hostStalls: [],
    replicaStalls: [],
    startMs: 50,
  };
}

/** PRNG stream of a full-stack run's links, apart from the schedule's and the plant's. */
const LINK_STREAM = 300;

export interface FullStackLimits {
  /** Simulated time allowed beyond the run's own length, ms (handshakes, recovery, a stall). */
  readonly slackMs: number;
  readonly eventsMax: number;
}

const DEFAULT_LIMITS: FullStackLimits = { slackMs: 120_000, eventsMax: 50_000_000 };

/**
 * Runs `options` (replica specs are replaced by simulated processes) in simulated time under
 * `env`. Hooks get the simulated clock's times (the kill switch's wall clock too).
 */
/** What a full-stack run reports to its caller: each tick with the simulated time it ended at. */
export interface FullStackHooks {
  readonly onTick?: (model: LoopModel, result: StepResult, simulatedMs: number) => void;
  readonly killSwitch?: RealtimeHooks['killSwitch'];
  /** TEST HOOK ONLY: see RealtimeHooks.testHookBrokenDeadline. */
  readonly testHookBrokenDeadline?: boolean;
}

export async function runFullStack(
  options: Omit<RealtimeOptions, 'replicas' | 'providers'>,
  env: TimingEnvironment,
  hooks: FullStackHooks = {},
  bench: LoopBench = {},
  limits: FullStackLimits = DEFAULT_LIMITS,
): Promise<RealtimeSummary & { simulatedMs: number }> {
  assert(env.links.length === options.replicaCount, 'one link profile per replica');
  const scheduler = new SimScheduler();
  for (const s of env.hostStalls) scheduler.stall('host', s.atMs, s.atMs + s.durationMs);
  for (const s of env.replicaStalls) scheduler.stall(replicaOwner(s.replica), s.atMs, s.atMs + s.durationMs);
  const provider = simProcessProvider(scheduler, env, options.seed);
  const clock = scheduler.clockFor('host');
  const periodMs = 1000 / options.rateHz;
  const summary = await scheduler.run(
    () =>
      runRealtime(
        { ...options, replicas: Array.from({ length: options.replicaCount }, () => ({ kind: 'sim-process' as const })), providers: [provider] },
        {
          clock,
          ...(hooks.killSwitch === undefined ? {} : { killSwitch: hooks.killSwitch }),
          ...(hooks.testHookBrokenDeadline === true ? { testHookBrokenDeadline: true } : {}),
          ...(hooks.onTick === undefined ? {} : { onTick: (model: LoopModel, result: StepResult) => hooks.onTick!(model, result, clock.nowMs()) }),
        },
        bench,
      ),
    { simMsMax: options.ticks * periodMs * 4 + limits.slackMs, eventsMax: limits.eventsMax },
  );
  return { ...summary, simulatedMs: clock.nowMs() };
}

function replicaOwner(replicaIndex: number): string {
  return `replica ${replicaIndex}`;
}

function simProcessProvider(scheduler: SimScheduler, env: TimingEnvironment, seed: number): ReplicaProvider {
  let incarnations = 0;
  const hostClock = scheduler.clockFor('host');
  /** A process takes startMs to start (spawned and listening), on the host's time. */
  const starting = (): Promise<void> => hostClock.sleepUntil(hostClock.nowMs() + env.startMs);
  const start = (replicaIndex: number, law: LoadedLaw): StartedReplica => {
    const owner = replicaOwner(replicaIndex);
    const profile = env.links[replicaIndex]!;
    // Each incarnation of each replica its own stream, in the order they are started (deterministic).
    const prng = new Prng(deriveSeed(seed, LINK_STREAM + incarnations++));
    const link = createSimLink(scheduler, {
      hostOwner: 'host',
      replicaOwner: owner,
      prng,
      toReplica: profile,
      toHost: profile,
      name: `simulated replica ${replicaIndex}`,
    });
    const clock: Clock = scheduler.clockFor(owner);
    let heartbeat: Timer | null = null;
    let stopped = false;
    /** The process is gone: a crash or a kill exits it (what it sent still reaches the host, then the link goes down); the host's isolation, stop and restart cut the link. */
    const die = (reason: string, how: 'exit' | 'cut'): void => {
      if (stopped) return;
      stopped = true;
      heartbeat?.cancel();
      // A stopped process that is killed does not stay stopped: nothing of its owner may wait on it.
      scheduler.resume(owner);
      if (how === 'exit') link.exit(reason);
      else link.drop(reason);
    };
    const endpoint = new ReplicaEndpoint(
      { write: (bytes) => void link.replica.send(bytes), crash: () => die('the replica process exited', 'exit') },
      { law, implementation: 'sim-process/2', clock },
    );
    const refusesInjects = env.withoutTestHooks?.includes(replicaIndex) === true;
    link.replica.onFrame((frame) => {
      if (stopped) return;
      if (refusesInjects) {
        const decoded = decodeMessage(frame);
        if (decoded.ok && decoded.message.kind === 'inject') {
          void link.replica.send(encodeMessage({ kind: 'error', code: ERROR_CODE.UNEXPECTED_MESSAGE, detail: 'test hooks disabled' }));
          return;
        }
      }
      const bytes = new Uint8Array(frame.length + 1);
      bytes.set(frame);
      endpoint.push(bytes);
    });
    heartbeat = clock.setRepeating(HEARTBEAT_PERIOD_MS, () => endpoint.heartbeatIfIdle(clock.nowMs()));
    const replica: StartedReplica = {
      transport: link.host,
      pid: undefined,
      dataPathPids: [],
      signal: (signal) => {
        if (stopped) return false;
        if (signal === 'SIGSTOP') scheduler.stallOpen(owner);
        else if (signal === 'SIGCONT') scheduler.resume(owner);
        else die(`killed by ${signal}`, 'exit');
        return true;
      },
      isolate: () => die('isolated by the host', 'cut'),
      onLinkUp: () => {},
      stop: async () => die('stopped by the host', 'cut'),
      async restart() {
        die('restarted by the host', 'cut');
        await starting();
        return start(replicaIndex, law);
      },
      async spawnSpare() {
        await starting();
        return start(replicaIndex, law);
      },
      warmUpTicks: 0,
      restartWarmUpTicks: 0,
    };
    return replica;
  };
  return { kind: 'sim-process', start: async (_spec, replicaIndex, law) => start(replicaIndex, law) };
}
