/**
 * The HIL bench: runs one scenario with its replicas in the loop, the voted command going out
 * through johnny-five to the actuator model, the plant closing the loop, disturbances and faults
 * on schedule, and checks the criteria. In-process ('sim') replica sets run in simulated time as
 * fast as the host allows; sets with processes, simulated boards or emulated Unos run in real
 * time through the same runner as `tmr run`.
 *
 * A dead voter is modelled by ending the loop at the death tick without the runtime's orderly
 * safe command, then stepping the plant on with no commands: only the actuator's own watchdog
 * can make it safe.
 */
import { performance } from 'node:perf_hooks';
import { TmrAssertionError } from '../src/core/assert.js';
import type { StepResult } from '../src/core/tmr-core.js';
import { DEFAULT_LOOP_OPTIONS, type LoopModel, type LoopOptions, type RunSummary } from '../src/runtime/loop-model.js';
import { runRealtime } from '../src/runtime/realtime-runner.js';
import type { ReplicaSpec } from '../src/runtime/replica-kinds.js';
import { PlantWorld } from '../src/sim/plant-world.js';
import { compileProfile, type SetpointProfile } from '../src/sim/setpoint-profile.js';
import { runSimulation } from '../src/sim/simulator.js';
import { PROVIDERS } from '../firmware-sim/replica-kinds.js';
import { openActuatorPath, type ActuatorPath } from './actuator-path.js';
import { evaluateCriteria } from './criteria.js';
import { NONE, Recording } from './recording.js';
import type { Marker, ModeBand, ScenarioResult } from './result.js';
import type { Scenario } from './scenario.js';
import { MODES } from '../src/core/degradation.js';

export interface BenchOptions {
  /** Called now and then with the ticks done (for a progress bar). */
  readonly onProgress?: (ticksDone: number) => void;
  readonly signal?: AbortSignal;
  /** Replaces the scenario's actuator path (the CLI's --firmata PATH). */
  readonly actuatorPathOverride?: Scenario['actuatorPath'];
}

/** The world of one run: the scenario's models, its disturbances, johnny-five in the command path. */
class BenchWorld extends PlantWorld {
  /** Set when the voter is to die: its orderly shutdown must not make the actuator safe. */
  voterDead = false;

  override enterSafeState(): void {
    if (!this.voterDead) super.enterSafeState();
  }
}

function makeWorld(scenario: Scenario, path: ActuatorPath, profile: SetpointProfile): BenchWorld {
  const loads = scenario.disturbances.filter((d) => d.kind === 'loadTorque');
  const glitches = scenario.disturbances.filter((d) => d.kind === 'sensorGlitch');
  let lastGoodReading = 0;
  return new BenchWorld({
    rateHz: scenario.rateHz,
    seed: scenario.seed,
    profile,
    ...(scenario.sensorNoiseSeed === null ? {} : { sensorNoiseSeed: scenario.sensorNoiseSeed }),
    plant: scenario.plant,
    actuator: scenario.actuator,
    sensor: scenario.sensor,
    loadTorqueNmAt: (tick) => {
      let torqueNm = 0;
      for (const d of loads) if (tick >= d.atTick && tick < d.atTick + d.durationTicks) torqueNm += d.torqueNm;
      return torqueNm;
    },
    glitchReading: (tick, reading) => {
      for (const d of glitches) {
        if (tick < d.atTick || tick >= d.atTick + d.durationTicks) continue;
        return d.mode === 'stuck' ? lastGoodReading : Math.max(-524_287, Math.min(524_287, reading + d.offsetMilliDeg));
      }
      lastGoodReading = reading;
      return reading;
    },
    commandPath: (_tick, commandMv) => path.deliver(commandMv),
  });
}

function loopOptions(scenario: Scenario, loopTicks: number, withFaults: boolean): LoopOptions {
  return {
    ...DEFAULT_LOOP_OPTIONS,
    replicaCount: scenario.replicas.length,
    rateHz: scenario.rateHz,
    ticks: loopTicks,
    seed: scenario.seed,
    simplexPolicy: scenario.simplexPolicy,
    recovery: scenario.recovery ?? DEFAULT_LOOP_OPTIONS.recovery,
    injects: withFaults ? scenario.faults.map((f) => ({ kind: f.kind, replicaIndex: f.replicaIndex, startTick: f.atTick, durationTicks: f.durationTicks })) : [],
  };
}

/** Records every tick the voter runs, and collects exclusion markers. */
function recorder(recording: Recording, world: BenchWorld, markers: Marker[], onProgress?: (ticks: number) => void) {
  const progressEvery = Math.max(1, Math.floor(recording.ticks / 200));
  return (model: LoopModel, result: StepResult): void => {
    const t = result.tick;
    // pid-q16's channels: inputs [setpoint, position], output 0 the motor command.
    recordPlant(recording, world, t, model.inputs[0] as number, model.inputs[1] as number);
    recording.commandMv[t] = result.commands[0] as number;
    recording.mode[t] = Recording.modeCode(result.mode);
    for (let i = 0; i < recording.replicaCount; i++) {
      if (model.obs.onTime[i] === 1) (recording.replicaCommandMv[i] as Int32Array)[t] = model.obs.outputs[i * model.obs.channelCount] as number;
    }
    for (const event of result.events) {
      if (event.kind === 'replicaExcluded') {
        markers.push({ tick: event.tick, kind: 'replicaExcluded', replicaIndex: event.replicaIndex, label: `r${event.replicaIndex} out: ${event.reason}`, endTick: null });
      }
    }
    if (onProgress !== undefined && (t + 1) % progressEvery === 0) onProgress(t + 1);
  };
}

function recordPlant(recording: Recording, world: BenchWorld, t: number, setpointMilliDeg: number, positionMilliDeg: number): void {
  recording.setpointMilliDeg[t] = setpointMilliDeg;
  recording.positionMilliDeg[t] = positionMilliDeg;
  recording.truePositionMilliDeg[t] = Math.round(world.plant.positionMilliDeg);
  recording.appliedMv[t] = world.actuator.appliedMv;
  recording.receivedMv[t] = world.lastReceivedMv ?? NONE;
  recording.brakeEngaged[t] = world.actuator.brakeEngaged ? 1 : 0;
  recording.stopped[t] = world.plant.velocityMilliDegPerS === 0 ? 1 : 0;
  recording.ticksRecorded = t + 1;
}

async function runLoop(
  scenario: Scenario,
  options: LoopOptions,
  world: BenchWorld,
  onTick: (model: LoopModel, result: StepResult) => void,
  signal: AbortSignal | undefined,
): Promise<RunSummary> {
  const bench = { world };
  if (scenario.replicas.every((r) => r.kind === 'sim')) return runSimulation(options, { onTick }, bench);
  const summary = await runRealtime(
    {
      ...options,
      deadlineUs: scenario.deadlineUs,
      handshakeTimeoutMs: 10_000,
      replicas: scenario.replicas as readonly ReplicaSpec[],
      providers: PROVIDERS,
    },
    { onTick, ...(signal === undefined ? {} : { signal }) },
    bench,
  );
  if (summary.interrupted) throw new Error('interrupted');
  return summary;
}

/** Voted commands of the same bench without faults, in simulated time (the reference), and their trace hash. */
async function referenceRun(scenario: Scenario, loopTicks: number, profile: SetpointProfile): Promise<{ commands: Int32Array; traceHash: string }> {
  const path = await openActuatorPath({ kind: 'sim' }, scenario.actuator.supplyMvMax);
  const world = makeWorld(scenario, path, profile);
  const commands = new Int32Array(loopTicks);
  const summary = runSimulation(loopOptions(scenario, loopTicks, false), { onTick: (_, result) => (commands[result.tick] = result.commands[0] as number) }, { world });
  await path.close();
  return { commands, traceHash: summary.votedTraceHash };
}

/** Attempts of a real-time scenario whose only failure is a timing hold (see ScenarioResult.retries). */
const REALTIME_ATTEMPTS_MAX = 2;

/**
 * Runs a scenario. A real-time run that failed only on the voted-trace comparison, with commands
 * held because no majority answered on time (a survivor's late reply in duplex, or a stalled host or
 * emulator: timing, not the injected fault), is
 * run once more; the result says so.
 */
export async function runScenario(scenario: Scenario, options: BenchOptions = {}): Promise<ScenarioResult> {
  const retries: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const result = await runScenarioOnce(scenario, options);
    const failed = result.criteria.filter((c) => !c.passed);
    const stalled = result.timeBase === 'realtime' && (result.counters.heldCommands ?? 0) > 0;
    const onlyTrace = failed.length > 0 && failed.every((c) => c.name === 'votedIdenticalToFaultFree');
    if (!(stalled && onlyTrace) || attempt >= REALTIME_ATTEMPTS_MAX || options.signal?.aborted === true) {
      return retries.length === 0 ? result : { ...result, retries };
    }
    retries.push(`attempt ${attempt}: ${result.counters.heldCommands} commands held (no majority on time); ${failed[0]!.message}`);
  }
}

async function runScenarioOnce(scenario: Scenario, options: BenchOptions): Promise<ScenarioResult> {
  const startedMs = performance.now();
  const loopTicks = scenario.voterDeathTick ?? scenario.ticks;
  const profile = compileProfile(scenario.setpoint.segments, scenario.setpoint.initialMilliDeg);
  const recording = new Recording(scenario.ticks, scenario.replicas.length);
  const markers: Marker[] = scenarioMarkers(scenario);
  const pathSpec = options.actuatorPathOverride ?? scenario.actuatorPath;
  const timeBase = scenario.replicas.every((r) => r.kind === 'sim') ? 'simulated' : 'realtime';
  let path: ActuatorPath | null = null;
  try {
    path = await openActuatorPath(pathSpec, scenario.actuator.supplyMvMax);
    const world = makeWorld(scenario, path, profile);
    world.voterDead = scenario.voterDeathTick !== null;
    const summary = await runLoop(scenario, loopOptions(scenario, loopTicks, true), world, recorder(recording, world, markers, options.onProgress), options.signal);
    // The voter is dead (or the run is over): the plant goes on, the drive hears nothing.
    const inputs = new Int32Array(2);
    for (let t = loopTicks; t < scenario.ticks; t++) {
      world.sense(t, inputs);
      world.stepWith(t, path.silentTick());
      recordPlant(recording, world, t, inputs[0] as number, inputs[1] as number);
    }
    const reference = scenario.criteria.votedIdenticalToFaultFree ? await referenceRun(scenario, loopTicks, profile) : null;
    const criteria = evaluateCriteria({ scenario, recording, summary, loopTicks, reference: reference?.commands ?? null });
    const wallMs = Math.round(performance.now() - startedMs);
    return assemble(scenario, {
      verdict: criteria.every((c) => c.passed) ? 'pass' : 'fail',
      error: null,
      timeBase,
      wallMs,
      criteria,
      markers: [...markers, ...safeMarker(recording, world)].sort((a, b) => a.tick - b.tick),
      recording,
      summary,
      referenceTraceHash: reference?.traceHash ?? null,
      actuatorPath: path.description,
      commandWrites: path.commandWrites,
    });
  } catch (error) {
    // Our own bugs are not a scenario's verdict: they end the command (exit 3).
    if (error instanceof TmrAssertionError) throw error;
    const message = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
    return assemble(scenario, {
      verdict: 'error', error: message, timeBase, wallMs: Math.round(performance.now() - startedMs), criteria: [], markers, recording,
      summary: null, referenceTraceHash: null, actuatorPath: path?.description ?? String(pathSpec.kind), commandWrites: path?.commandWrites ?? 0,
    });
  } finally {
    await path?.close();
  }
}

function scenarioMarkers(scenario: Scenario): Marker[] {
  const markers: Marker[] = [];
  for (const f of scenario.faults) {
    const end = f.durationTicks > 0 ? f.atTick + f.durationTicks - 1 : null;
    markers.push({ tick: f.atTick, kind: 'faultInjected', replicaIndex: f.replicaIndex, label: `${f.kind} → r${f.replicaIndex}`, endTick: end });
    if (end !== null) markers.push({ tick: end + 1, kind: 'faultEnded', replicaIndex: f.replicaIndex, label: `${f.kind} on r${f.replicaIndex} ends`, endTick: null });
  }
  for (const d of scenario.disturbances) {
    const label = d.kind === 'loadTorque' ? `load ${d.torqueNm} N·m` : d.mode === 'stuck' ? 'sensor stuck' : `sensor ${d.offsetMilliDeg > 0 ? '+' : ''}${d.offsetMilliDeg} m°`;
    markers.push({ tick: d.atTick, kind: 'disturbance', replicaIndex: null, label, endTick: d.atTick + d.durationTicks - 1 });
  }
  if (scenario.voterDeathTick !== null) markers.push({ tick: scenario.voterDeathTick, kind: 'voterDeath', replicaIndex: null, label: 'voter killed', endTick: null });
  return markers;
}

function safeMarker(recording: Recording, world: BenchWorld): Marker[] {
  const first = recording.brakeEngaged.subarray(0, recording.ticksRecorded).indexOf(1);
  if (first < 0) return [];
  return [{ tick: first, kind: 'actuatorSafe', replicaIndex: null, label: `actuator safe (${world.actuator.safeReason})`, endTick: null }];
}

interface Outcome {
  readonly verdict: ScenarioResult['verdict'];
  readonly error: string | null;
  readonly timeBase: ScenarioResult['timeBase'];
  readonly wallMs: number;
  readonly criteria: ScenarioResult['criteria'];
  readonly markers: readonly Marker[];
  readonly recording: Recording;
  readonly summary: RunSummary | null;
  readonly referenceTraceHash: string | null;
  readonly actuatorPath: string;
  readonly commandWrites: number;
}

function modeBands(recording: Recording): ModeBand[] {
  const bands: ModeBand[] = [];
  const modes = recording.mode;
  for (let t = 0; t < recording.ticksRecorded; ) {
    const code = modes[t] as number;
    let end = t + 1;
    while (end < recording.ticksRecorded && modes[end] === code) end++;
    const mode = MODES[code];
    if (mode !== undefined) bands.push({ fromTick: t, toTick: end, mode });
    t = end;
  }
  return bands;
}

function assemble(scenario: Scenario, o: Outcome): ScenarioResult {
  const r = o.recording;
  const n = r.ticksRecorded;
  const s = o.summary;
  const plantSeconds = n / scenario.rateHz;
  let ticksWithoutCommand = 0;
  let receivedNotVoted = 0;
  for (let t = 0; t < n; t++) {
    if (r.commandMv[t] === NONE) ticksWithoutCommand++;
    if (r.receivedMv[t] !== r.commandMv[t]) receivedNotVoted++;
  }
  return {
    name: scenario.name,
    description: scenario.description,
    file: scenario.file,
    verdict: o.verdict,
    error: o.error,
    seed: scenario.seed,
    rateHz: scenario.rateHz,
    ticks: n,
    replicaKinds: scenario.replicas.map((x) => x.kind),
    timeBase: o.timeBase,
    wallMs: o.wallMs,
    realTimeFactor: o.wallMs > 0 ? Math.round((plantSeconds / (o.wallMs / 1000)) * 100) / 100 : 0,
    criteria: o.criteria,
    modeBands: modeBands(r),
    markers: o.markers,
    series: {
      setpointMilliDeg: Recording.plain(r.setpointMilliDeg, n),
      positionMilliDeg: Recording.plain(r.positionMilliDeg, n),
      truePositionMilliDeg: Recording.plain(r.truePositionMilliDeg, n),
      commandMv: Recording.nullable(r.commandMv, n),
      appliedMv: Recording.plain(r.appliedMv, n),
      replicaCommandMv: r.replicaCommandMv.map((column) => Recording.nullable(column, n)),
    },
    counters: s === null ? {} : {
      unsafeCommands: s.unsafeCommands,
      deadlineMisses: s.deadlineMisses,
      protocolErrors: s.protocolErrors,
      lateReplies: s.lateReplies,
      votedCommands: s.commands.voted,
      heldCommands: s.commands.held,
      simplexCommands: s.commands.simplex,
      safeCommands: s.commands.safe,
      actuatorWatchdogTrips: s.actuator.watchdogTrips,
      actuatorCommandsRejected: s.actuator.commandsRejected,
      actuatorCommandWrites: o.commandWrites,
      ticksWithoutCommand,
      // Ticks where what reached the drive through johnny-five differs from the voted command.
      actuatorReceivedNotVoted: receivedNotVoted,
    },
    referenceTraceHash: o.referenceTraceHash,
    votedTraceHash: s === null ? '' : s.votedTraceHash,
    actuatorPath: o.actuatorPath,
    replayCommand: `npx tmr hil ${scenario.file}`,
  };
}
