/**
 * The HIL bench: runs one scenario with its replicas in the loop, the voted commands going to the
 * plant's world, faults on schedule, and checks the criteria. Any law and plant: on the motor
 * plant (pid-q16's) the bench builds the world from the scenario's models, disturbances and
 * setpoints, with the voted command going out through johnny-five to the actuator model; any
 * other plant runs the world its own module creates. In-process ('sim') replica sets run in
 * simulated time as fast as the host allows; sets with processes, simulated boards or emulated
 * Unos run in real time through the same runner as `tmr run`.
 *
 * A dead voter (motor only) is modelled by ending the loop at the death tick without the
 * runtime's orderly safe command, then stepping the plant on with no commands: only the
 * actuator's own watchdog can make it safe.
 */
import { performance } from 'node:perf_hooks';
import { TmrAssertionError } from '../src/core/assert.js';
import type { StepResult } from '../src/core/tmr-core.js';
import type { LoopBench, LoopModel, LoopOptions, RunSummary } from '../src/loop/loop-model.js';
import type { LoopWorld } from '../src/loop/world.js';
import { DEFAULT_LOOP_OPTIONS } from '../src/sim/plants.js';
import { runRealtime } from '../src/runtime/realtime-runner.js';
import type { ReplicaSpec } from '../src/runtime/replica-kinds.js';
import { PlantWorld } from '../src/sim/plant-world.js';
import { compileProfile } from '../src/sim/setpoint-profile.js';
import { runSimulation } from '../src/sim/simulator.js';
import { PROVIDERS } from '../firmware-sim/replica-kinds.js';
import { openActuatorPath, type ActuatorPath, type ActuatorPathSpec } from './actuator-path.js';
import { evaluateCriteria } from './criteria.js';
import { IoRun, type IoEvidence } from './io-run.js';
import { NONE, Recording } from './recording.js';
import type { CriterionOutcome, IoResult, Marker, ModeBand, ScenarioResult } from './result.js';
import type { MotorSetup, Scenario } from './scenario.js';
import { MODES } from '../src/core/degradation.js';

export interface BenchOptions {
  /** Called now and then with the ticks done (for a progress bar). */
  readonly onProgress?: (ticksDone: number) => void;
  readonly signal?: AbortSignal;
  /** Replaces a motor scenario's actuator path (the CLI's --firmata PATH); other plants have none. */
  readonly actuatorPathOverride?: ActuatorPathSpec;
}

/** The motor world of one run: the scenario's models, its disturbances, johnny-five in the command path. */
class MotorBenchWorld extends PlantWorld {
  /** Set when the voter is to die: its orderly shutdown must not make the actuator safe. */
  voterDead = false;

  override enterSafeState(): void {
    if (!this.voterDead) super.enterSafeState();
  }
}

function makeMotorWorld(scenario: Scenario, motor: MotorSetup, path: ActuatorPath): MotorBenchWorld {
  const loads = motor.disturbances.filter((d) => d.kind === 'loadTorque');
  const glitches = motor.disturbances.filter((d) => d.kind === 'sensorGlitch');
  let lastGoodReading = 0;
  return new MotorBenchWorld({
    rateHz: scenario.rateHz,
    seed: scenario.seed,
    profile: compileProfile(motor.setpoint.segments, motor.setpoint.initialMilliDeg),
    ...(motor.sensorNoiseSeed === null ? {} : { sensorNoiseSeed: motor.sensorNoiseSeed }),
    plant: motor.plant,
    actuator: motor.actuator,
    sensor: motor.sensor,
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
    law: scenario.law,
    plant: scenario.plant,
    replicaCount: scenario.replicas.length,
    rateHz: scenario.rateHz,
    ticks: loopTicks,
    seed: scenario.seed,
    simplexPolicy: scenario.simplexPolicy,
    recovery: scenario.recovery ?? DEFAULT_LOOP_OPTIONS.recovery,
    injects: withFaults ? scenario.faults.map((f) => ({ kind: f.kind, replicaIndex: f.replicaIndex, startTick: f.atTick, durationTicks: f.durationTicks })) : [],
  };
}

/**
 * Records every tick the voter runs, and collects exclusion and re-admission markers; with real
 * I/O, hands the tick's input events to the io run, which sends the board what is due next.
 */
function recorder(recording: Recording, world: MotorBenchWorld | null, markers: Marker[], io: IoRun | null, onProgress?: (ticks: number) => void) {
  const progressEvery = Math.max(1, Math.floor(recording.ticks / 200));
  const width = recording.outputCount;
  return (model: LoopModel, result: StepResult): void => {
    const t = result.tick;
    recording.recordInputs(t, model.inputs);
    if (world !== null) recordMotor(recording, world, t);
    recording.recordCommands(t, result.commands);
    recording.mode[t] = Recording.modeCode(result.mode);
    for (let i = 0; i < recording.replicaCount; i++) {
      if (model.obs.onTime[i] !== 1) continue;
      const columns = recording.replicaOutputs[i] as Int32Array[];
      for (let c = 0; c < width; c++) (columns[c] as Int32Array)[t] = model.obs.outputs[i * model.obs.channelCount + c] as number;
    }
    for (const event of result.events) {
      if (event.kind === 'replicaExcluded') {
        markers.push({ tick: event.tick, kind: 'replicaExcluded', replicaIndex: event.replicaIndex, label: `r${event.replicaIndex} out: ${event.reason}`, endTick: null });
      }
      if (event.kind === 'replicaReadmitted') {
        markers.push({ tick: event.tick, kind: 'replicaReadmitted', replicaIndex: event.replicaIndex, label: `r${event.replicaIndex} back in`, endTick: null });
      }
    }
    recording.ticksRecorded = t + 1;
    io?.afterTick(t, model.inputEvents);
    if (onProgress !== undefined && (t + 1) % progressEvery === 0) onProgress(t + 1);
  };
}

/** The motor world's state after tick t. */
function recordMotor(recording: Recording, world: MotorBenchWorld, t: number): void {
  const m = recording.motor;
  if (m === null) return;
  m.truePositionMilliDeg[t] = Math.round(world.plant.positionMilliDeg);
  m.appliedMv[t] = world.actuator.appliedMv;
  m.receivedMv[t] = world.lastReceivedMv ?? NONE;
  m.brakeEngaged[t] = world.actuator.brakeEngaged ? 1 : 0;
  m.stopped[t] = world.plant.velocityMilliDegPerS === 0 ? 1 : 0;
}

async function runLoop(
  scenario: Scenario,
  options: LoopOptions,
  world: LoopWorld | null,
  onTick: (model: LoopModel, result: StepResult) => void,
  signal: AbortSignal | undefined,
): Promise<RunSummary> {
  // Another plant than the motor, without io: the loop builds the plant module's own world.
  const bench: LoopBench = world === null ? {} : { world };
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

/**
 * The commands of the same bench without faults, in simulated time (the reference), every output
 * channel (tick-major), and their trace hash.
 */
async function referenceRun(scenario: Scenario, loopTicks: number): Promise<{ commands: Int32Array; traceHash: string }> {
  const width = scenario.law.outputCount;
  const commands = new Int32Array(loopTicks * width);
  const onTick = (_: LoopModel, result: StepResult): void => commands.set(result.commands, result.tick * width);
  const options = loopOptions(scenario, loopTicks, false);
  if (scenario.motor === null) return { commands, traceHash: runSimulation(options, { onTick }).votedTraceHash };
  const path = await openActuatorPath({ kind: 'sim' }, scenario.motor.actuator.supplyMvMax);
  try {
    const summary = runSimulation(options, { onTick }, { world: makeMotorWorld(scenario, scenario.motor, path) });
    return { commands, traceHash: summary.votedTraceHash };
  } finally {
    await path.close();
  }
}

/** Attempts of a real-time scenario whose only failure is a timing hold (see ScenarioResult.retries). */
const REALTIME_ATTEMPTS_MAX = 2;

/**
 * Runs a scenario. A real-time run that failed only on timing is run once more, and the result
 * says so: one that failed only on the voted-trace comparison, with commands held because no
 * majority answered on time (a survivor's late reply in duplex, or a stalled host or emulator, not
 * the injected fault); or, with real I/O, one that went safe on a sensor gone stale before anything
 * in the scenario could make it so (a stalled board or host: the loop did right, the scenario
 * never got to its point), or one that failed on tracking alone while a tick used a reading from
 * before a stall of the board or the host (the loop steered blind; its safety criteria held).
 */
export async function runScenario(scenario: Scenario, options: BenchOptions = {}): Promise<ScenarioResult> {
  const retries: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const result = await runScenarioOnce(scenario, options);
    const failed = result.criteria.filter((c) => !c.passed);
    const stalled = result.timeBase === 'realtime' && (result.counters.heldCommands ?? 0) > 0;
    const onlyTrace = failed.length > 0 && failed.every((c) => c.name === 'votedIdenticalToFaultFree');
    const timing = failed.length === 0 ? null : (uncausedInputTrip(scenario, result) ?? blindTracking(scenario, result, failed));
    if (!((stalled && onlyTrace) || timing !== null) || attempt >= REALTIME_ATTEMPTS_MAX || options.signal?.aborted === true) {
      return retries.length === 0 ? result : { ...result, retries };
    }
    retries.push(`attempt ${attempt}: ${timing ?? `${result.counters.heldCommands} commands held (no majority on time)`}; ${failed[0]!.message}`);
  }
}

/** Readings older than this many sampling intervals mean the board or the host stalled: the loop steered blind meanwhile. */
const STALL_SAMPLING_INTERVALS = 4;

/**
 * With real I/O: why a run that failed on tracking alone (trackingError, steps) is timing's, not
 * the loop's: some tick used a reading older than STALL_SAMPLING_INTERVALS sampling intervals
 * (null: none did, or something else failed too). A stalled host leaves the board's drive on its
 * last command and a stalled board steps its plant late; the tracking bounds claim nothing then.
 */
function blindTracking(scenario: Scenario, result: ScenarioResult, failed: readonly CriterionOutcome[]): string | null {
  const io = scenario.io;
  if (io === null || !failed.every((c) => c.name.startsWith('trackingError') || c.name.startsWith('steps'))) return null;
  const ageMaxMs = result.counters.sampleAgeMaxMs ?? 0;
  const limitMs = STALL_SAMPLING_INTERVALS * io.map.samplingIntervalMs;
  return ageMaxMs > limitMs ? `a reading ${ageMaxMs} ms old was used (over ${limitMs} ms, ${STALL_SAMPLING_INTERVALS} sampling intervals: a stalled board or host), and only tracking failed` : null;
}

/**
 * With real I/O: why the loop went safe on an input fault before the scenario's first sensor fault
 * or the board's vanishing could cause one (null: it did not).
 */
function uncausedInputTrip(scenario: Scenario, result: ScenarioResult): string | null {
  const io = scenario.io;
  if (io === null || result.io === undefined || result.killSwitch?.trigger !== 'INPUT_FAULT') return null;
  const firstCause = Math.min(...io.sensorFaults.map((f) => f.atTick), io.boardVanishTick ?? Number.POSITIVE_INFINITY);
  const expired = result.io.inputEvents.find((e) => e.kind === 'inputHoldExpired');
  if (expired === undefined || expired.kind !== 'inputHoldExpired' || expired.tick >= firstCause) return null;
  const age = result.io.summary?.sampleAgeMs.max;
  return `the loop went safe before tick ${expired.tick} on ${expired.name} ${expired.reason}, before anything in the scenario could cause it (sample age max ${age ?? '?'} ms: a stalled board or host)`;
}

async function runScenarioOnce(scenario: Scenario, options: BenchOptions): Promise<ScenarioResult> {
  const startedMs = performance.now();
  const loopTicks = scenario.voterDeathTick ?? scenario.ticks;
  const motor = scenario.motor;
  const recording = new Recording(scenario.ticks, scenario.replicas.length, scenario.law.inputCount, scenario.law.outputCount, motor !== null);
  const markers: Marker[] = scenarioMarkers(scenario);
  // The johnny-five path drives the motor's servo; another plant's world takes its commands itself.
  const pathSpec = motor === null ? null : (options.actuatorPathOverride ?? motor.actuatorPath);
  const worldDescription = scenario.io === null ? `plant ${scenario.plant.name}: its module's own world (no johnny-five path)` : `simulated Firmata ${scenario.plant.name} board (${scenario.io.map.source})`;
  const timeBase = scenario.replicas.every((r) => r.kind === 'sim') ? 'simulated' : 'realtime';
  let path: ActuatorPath | null = null;
  let io: IoRun | null = null;
  try {
    let world: MotorBenchWorld | null = null;
    if (motor !== null && pathSpec !== null) {
      path = await openActuatorPath(pathSpec, motor.actuator.supplyMvMax);
      world = makeMotorWorld(scenario, motor, path);
      world.voterDead = scenario.voterDeathTick !== null;
    }
    if (scenario.io !== null) io = await IoRun.open(scenario);
    const onTick = recorder(recording, world, markers, io, options.onProgress);
    const summary = await runLoop(scenario, loopOptions(scenario, loopTicks, true), io?.sim.world ?? world, onTick, options.signal);
    if (world !== null && path !== null) runOnWithoutVoter(scenario, recording, world, path, loopTicks);
    const ioEvidence = io === null ? null : await io.finish(summary.ticks);
    const reference = scenario.criteria.votedIdenticalToFaultFree ? await referenceRun(scenario, loopTicks) : null;
    const criteria = evaluateCriteria({ scenario, recording, summary, loopTicks, reference: reference?.commands ?? null, io: ioEvidence });
    const wallMs = Math.round(performance.now() - startedMs);
    return assemble(scenario, {
      verdict: criteria.every((c) => c.passed) ? 'pass' : 'fail',
      error: null,
      timeBase,
      wallMs,
      criteria,
      markers: [...markers, ...safeMarker(recording, world), ...ioMarkers(scenario, summary, ioEvidence)].sort((a, b) => a.tick - b.tick),
      recording,
      summary,
      referenceTraceHash: reference?.traceHash ?? null,
      actuatorPath: path?.description ?? io?.description ?? worldDescription,
      commandWrites: path?.commandWrites ?? null,
      io: ioEvidence,
    });
  } catch (error) {
    // Our own bugs are not a scenario's verdict: they end the command (exit 3).
    if (error instanceof TmrAssertionError) throw error;
    const message = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
    return assemble(scenario, {
      verdict: 'error', error: message, timeBase, wallMs: Math.round(performance.now() - startedMs), criteria: [], markers, recording,
      summary: null, referenceTraceHash: null, actuatorPath: path?.description ?? io?.description ?? (pathSpec === null ? worldDescription : String(pathSpec.kind)),
      commandWrites: path?.commandWrites ?? null, io: null,
    });
  } finally {
    // The board and its link go in every case: a failed scenario leaves no process behind.
    try {
      await path?.close();
    } finally {
      await io?.close();
    }
  }
}

/** The voter is dead (or the run is over): the motor plant goes on, the drive hears nothing. */
function runOnWithoutVoter(scenario: Scenario, recording: Recording, world: MotorBenchWorld, path: ActuatorPath, loopTicks: number): void {
  const inputs = new Int32Array(scenario.law.inputCount);
  for (let t = loopTicks; t < scenario.ticks; t++) {
    world.sense(t, inputs);
    world.stepWith(t, path.silentTick());
    recording.recordInputs(t, inputs);
    recordMotor(recording, world, t);
    recording.ticksRecorded = t + 1;
  }
}

function scenarioMarkers(scenario: Scenario): Marker[] {
  const markers: Marker[] = [];
  for (const f of scenario.faults) {
    const end = f.durationTicks > 0 ? f.atTick + f.durationTicks - 1 : null;
    markers.push({ tick: f.atTick, kind: 'faultInjected', replicaIndex: f.replicaIndex, label: `${f.kind} → r${f.replicaIndex}`, endTick: end });
    if (end !== null) markers.push({ tick: end + 1, kind: 'faultEnded', replicaIndex: f.replicaIndex, label: `${f.kind} on r${f.replicaIndex} ends`, endTick: null });
  }
  for (const d of scenario.motor?.disturbances ?? []) {
    const label = d.kind === 'loadTorque' ? `load ${d.torqueNm} N·m` : d.mode === 'stuck' ? 'sensor stuck' : `sensor ${d.offsetMilliDeg > 0 ? '+' : ''}${d.offsetMilliDeg} m°`;
    markers.push({ tick: d.atTick, kind: 'disturbance', replicaIndex: null, label, endTick: d.atTick + d.durationTicks - 1 });
  }
  if (scenario.voterDeathTick !== null) markers.push({ tick: scenario.voterDeathTick, kind: 'voterDeath', replicaIndex: null, label: 'voter killed', endTick: null });
  return markers;
}

/**
 * Real I/O's markers: the board's sensor faults (shaded while they last) and its vanishing, each
 * input fault as the loop saw it (shaded until it recovered or the run ended), and the safe state
 * the kill switch's INPUT_FAULT commanded.
 */
function ioMarkers(scenario: Scenario, summary: RunSummary, io: IoEvidence | null): Marker[] {
  if (scenario.io === null || io === null) return [];
  const markers: Marker[] = [];
  const inputs = scenario.law.definition.inputs;
  const lastTick = Math.max(0, summary.ticks - 1);
  for (const f of scenario.io.sensorFaults) {
    const end = f.durationTicks > 0 ? f.atTick + f.durationTicks - 1 : null;
    markers.push({ tick: f.atTick, kind: 'faultInjected', replicaIndex: null, label: `${inputs[f.channelIndex]!.name} ${f.fault} (board)`, endTick: end });
  }
  if (scenario.io.boardVanishTick !== null) markers.push({ tick: scenario.io.boardVanishTick, kind: 'faultInjected', replicaIndex: null, label: 'board vanishes', endTick: null });
  const open = new Map<number, Marker>();
  for (const e of io.inputEvents) {
    if (e.kind === 'inputFault' && !open.has(e.channel)) {
      const marker: Marker = { tick: e.tick, kind: 'inputFault', replicaIndex: null, label: `${inputs[e.channel]!.name} ${e.reason}`, endTick: lastTick };
      open.set(e.channel, marker);
      markers.push(marker);
    }
    if (e.kind === 'inputRecovered') {
      const marker = open.get(e.channel);
      if (marker !== undefined) markers[markers.indexOf(marker)] = { ...marker, endTick: Math.max(marker.tick, e.tick - 1) };
      open.delete(e.channel);
    }
  }
  const trip = summary.killSwitch;
  if (trip !== null) markers.push({ tick: trip.tick + 1, kind: 'actuatorSafe', replicaIndex: null, label: `safe: ${trip.trigger}`, endTick: null });
  return markers;
}

/** The motor drive's brake engaging; another plant's drives are its module's own and not seen here. */
function safeMarker(recording: Recording, world: MotorBenchWorld | null): Marker[] {
  if (recording.motor === null || world === null) return [];
  const first = recording.motor.brakeEngaged.subarray(0, recording.ticksRecorded).indexOf(1);
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
  /** Writes to the motor drive's command pin; null on another plant (no johnny-five path). */
  readonly commandWrites: number | null;
  /** Real I/O's evidence; null without io (or when the run failed before it). */
  readonly io: IoEvidence | null;
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
  const firstChannel = r.commands[0] as Int32Array;
  let ticksWithoutCommand = 0;
  for (let t = 0; t < n; t++) if (firstChannel[t] === NONE) ticksWithoutCommand++;
  const { inputs, outputs } = scenario.law.definition;
  return {
    name: scenario.name,
    description: scenario.description,
    file: scenario.file,
    verdict: o.verdict,
    error: o.error,
    seed: scenario.seed,
    law: { name: scenario.law.name, version: scenario.law.version },
    plant: scenario.plant.name,
    tracking: { ...scenario.plant.tracking },
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
      inputs: inputs.map((c, i) => ({ name: c.name, unit: c.unit, min: c.min, max: c.max, values: Recording.plain(r.inputs[i] as Int32Array, n) })),
      outputs: outputs.map((c, i) => ({
        name: c.name,
        unit: c.unit,
        min: c.min,
        max: c.max,
        values: Recording.nullable(r.commands[i] as Int32Array, n),
        replicas: r.replicaOutputs.map((columns) => Recording.nullable(columns[i] as Int32Array, n)),
      })),
      ...(r.motor === null ? {} : { motor: { truePositionMilliDeg: Recording.plain(r.motor.truePositionMilliDeg, n), appliedMv: Recording.plain(r.motor.appliedMv, n) } }),
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
      ticksWithoutCommand,
      ...(r.motor === null ? {} : motorCounters(r, n, o.commandWrites ?? 0)),
      ...(o.io === null ? {} : ioCounters(o.io)),
    },
    referenceTraceHash: o.referenceTraceHash,
    votedTraceHash: s === null ? '' : s.votedTraceHash,
    actuatorPath: o.actuatorPath,
    replayCommand: `npx tmr hil ${scenario.file}`,
    ...(s === null ? {} : { killSwitch: s.killSwitch }),
    ...(o.io === null ? {} : { io: ioResult(scenario, o.io) }),
  };
}

/** Real I/O's counts: what crossed the wire, how old the readings were, the input faults, the board's loss and its dead-man. */
function ioCounters(io: IoEvidence): Record<string, number> {
  const s = io.summary;
  if (s === null) return {};
  return {
    sensorSamples: s.sensorSamples,
    actuatorWrites: s.actuatorWrites,
    heartbeatEdges: s.heartbeatEdges,
    sampleAgeP50Ms: s.sampleAgeMs.p50,
    sampleAgeP99Ms: s.sampleAgeMs.p99,
    sampleAgeMaxMs: s.sampleAgeMs.max,
    inputFaultTicksStale: s.inputFaultTicks.SENSOR_STALE,
    inputFaultTicksOutOfRange: s.inputFaultTicks.SENSOR_OUT_OF_RANGE,
    boardLost: s.boardLost === null ? 0 : 1,
    ...(s.boardLost === null ? {} : { boardLostTick: s.boardLost.tick }),
    ...(io.board.status === null ? {} : { boardWatchdogTrips: io.board.status.watchdogTrips }),
  };
}

function ioResult(scenario: Scenario, io: IoEvidence): IoResult {
  const inputs = scenario.law.definition.inputs;
  return {
    description: io.description,
    summary: io.summary,
    actions: io.actions,
    inputEvents: io.inputEvents.map((e) => ({ ...e, name: inputs[e.channel]!.name })),
    inputEventsDropped: io.inputEventsDropped,
    board: io.board,
  };
}

/** The johnny-five path's counts: pin writes, and ticks where what reached the drive differs from the voted command. */
function motorCounters(r: Recording, n: number, commandWrites: number): Record<string, number> {
  const received = r.motor!.receivedMv;
  const voted = r.commands[0] as Int32Array;
  let receivedNotVoted = 0;
  for (let t = 0; t < n; t++) if (received[t] !== voted[t]) receivedNotVoted++;
  return { actuatorCommandWrites: commandWrites, actuatorReceivedNotVoted: receivedNotVoted };
}
