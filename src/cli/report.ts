/**
 * Human-readable summaries and the live status line. Formatting only; no decisions.
 */
import type { FaultRecord, RunSummary } from '../loop/loop-model.js';
import type { Mode } from '../core/degradation.js';
import type { TickEvent } from '../api/runtime-types.js';

function degrees(milliDeg: number): string {
  return `${(milliDeg / 1000).toFixed(2)}°`;
}

const MODE_WORDS: Record<string, string> = {
  tmr: 'TMR (2-out-of-3 voting)',
  duplex: 'duplex (both must agree)',
  simplex: 'simplex (one replica, unchecked)',
  safe: 'SAFE (actuator at its safe command)',
};

export function formatSummary(summary: RunSummary, title: string): string {
  const lines: string[] = [];
  const seconds = (summary.ticks / summary.rateHz).toFixed(1);
  lines.push(`${title}: ${summary.replicaCount} replicas, ${summary.ticks} ticks at ${summary.rateHz} Hz (${seconds} s of plant time), seed ${summary.seed}`);
  if (summary.faults.length === 0 && summary.stalls.length === 0) lines.push('faults: none injected');
  for (const stall of summary.stalls) lines.push(`stall: every replica stopped at tick ${stall.startTick} for ${stall.durationTicks} ticks (machine-wide)`);
  for (const f of summary.faults) {
    const duration = f.durationTicks > 0 ? ` for ${f.durationTicks} ticks` : '';
    const safe = summary.modeHistory.find((m) => m.mode === 'safe' && m.tick >= f.injectedTick);
    const detection =
      f.refusal !== null
        ? refusalText(f.replica, f.refusal)
        : f.detectedTick !== null
          ? `detected at tick ${f.detectedTick} (${f.detectionLatencyTicks} ticks later): ${f.reason}`
          : safe !== undefined
            ? `not attributable to one replica; the loop went safe at tick ${safe.tick} (${safe.reason})`
            : 'not detected (tolerated as a transient, or masked without exclusion)';
    lines.push(`fault: ${f.kind} on replica ${f.replica} at tick ${f.injectedTick}${duration} — ${detection}`);
  }
  lines.push('modes:');
  for (const m of summary.modeHistory) lines.push(`  tick ${String(m.tick).padStart(7)}  ${MODE_WORDS[m.mode] ?? m.mode}${m.reason === 'START' ? '' : `  ← ${m.reason}`}`);
  const recovery = summary.recovery;
  // A real-time run names each replica by what it is (its port, its process): RealtimeSummary.replicaNames.
  const names = (summary as { replicaNames?: readonly string[] }).replicaNames;
  for (const r of summary.replicas) {
    const state =
      r.state === 'inService' ? 'in service' : r.state === 'probation' ? 'on probation' : `excluded at tick ${r.excludedTick}: ${r.reason}${r.detail ? ` (${r.detail})` : ''}`;
    const supervised = recovery?.replicas[r.index];
    const restarts = supervised === undefined || supervised.restarts === 0 ? '' : `; restarted ${supervised.restarts}×`;
    const retired = supervised?.retired ? `; OUT FOR GOOD: ${supervised.retired} (${supervised.detail})` : '';
    const name = names?.[r.index];
    lines.push(`replica ${r.index}${name === undefined ? '' : ` (${name})`}: ${state}${restarts}${retired}`);
  }
  if (recovery !== null) {
    const times = recovery.recoveryTicksMedian === null ? '' : `; exclusion to counted again: median ${recovery.recoveryTicksMedian} ticks, worst ${recovery.recoveryTicksMax} ticks`;
    lines.push(
      `recovery: ${recovery.restarts} restarts (${recovery.restartFailures} failed), ${recovery.readmissions} re-admitted, ${recovery.probationFailures} failed probation, ${recovery.stateTransfersRefused} state transfers refused${times}`,
    );
    lines.push(
      recovery.coldRestart
        ? `cold restart (--cold-restart): allowed; ${recovery.coldRestarts} cold restart${recovery.coldRestarts === 1 ? '' : 's'} of the law from its initial state`
        : 'cold restart: not allowed (--cold-restart): with every replica out, none comes back without a majority to copy state from',
    );
  }
  lines.push(...commonModeLines(summary));
  const c = summary.commands;
  lines.push(`commands to the actuator: ${c.voted} voted, ${c.held} held, ${c.simplex} simplex, ${c.safe} safe`);
  lines.push(
    summary.unsafeCommands === 0
      ? 'unsafe commands: 0 — the actuator never received a command without a majority behind it'
      : `UNSAFE COMMANDS: ${summary.unsafeCommands} (first at tick ${summary.firstUnsafeTick})`,
  );
  lines.push(`deadline misses: ${summary.deadlineMisses}, late replies: ${summary.lateReplies}, corrupt or invalid frames: ${summary.protocolErrors}`);
  const t = summary.tracking;
  lines.push(`tracking (${t.measured} against ${t.setpoint}): max error ${quantity(t.maxAbsError, t.unit)}, final error ${quantity(t.finalError, t.unit)}`);
  const io = summary.io;
  if (io !== undefined) {
    const faults = io.inputFaultTicks;
    lines.push(
      `io: ${io.description}: ${io.sensorSamples} sensor samples read, ${io.actuatorWrites} actuator writes, ${io.heartbeatEdges} heartbeat edges; ` +
        `sample age at the tick p50 ${io.sampleAgeMs.p50} ms, p99 ${io.sampleAgeMs.p99} ms; ticks faulted: ${faults.SENSOR_STALE} stale, ${faults.SENSOR_OUT_OF_RANGE} out of range` +
        (io.boardLost === null ? '' : `; BOARD LOST at tick ${io.boardLost.tick}: ${io.boardLost.detail}`),
    );
  }
  lines.push(`voted trace hash: ${summary.votedTraceHash}`);
  const k = summary.killSwitch;
  if (k !== null) lines.push(`KILL SWITCH: ${k.trigger} after tick ${k.tick}: ${k.detail} — the actuator was sent to its safe state and the replicas stopped`);
  return lines.join('\n');
}

/**
 * A refused injection: the fault never ran. The replica's detail says why (a build without test
 * hooks, a fault kind it does not know: PROTOCOL.md 13).
 */
export function refusalText(replicaIndex: number, refusal: NonNullable<FaultRecord['refusal']>): string {
  return `refused by replica ${replicaIndex}: ${refusal.code}${refusal.detail === '' ? '' : ` (${refusal.detail})`}; the fault never ran`;
}

const CAUSE_WORDS: Record<string, string> = {
  REPLICAS_SILENT: 'replicas silent or late together',
  HOST_OVERRUN: 'the host itself late',
};

/** The common-mode episodes: counted, the first few listed; nothing when there were none. */
function commonModeLines(summary: RunSummary): string[] {
  const cm = summary.commonMode;
  if (cm.episodes === 0) return [];
  const lines = [
    `common-mode episodes (COMMON_MODE_STALL): ${cm.episodes} — ${cm.ridden} ridden through without an exclusion, ${cm.lost} lost (limit ${cm.limitTicks} ticks); longest ${cm.longestTicks} ticks, ${cm.ticks} ticks in all`,
  ];
  const listed = cm.records.slice(0, 10);
  for (const r of listed) {
    const length = r.lengthTicks === null ? 'still going at the end' : `${r.lengthTicks} ticks`;
    lines.push(`  tick ${String(r.startTick).padStart(7)}  ${length}, ${CAUSE_WORDS[r.cause] ?? r.cause} (replicas ${r.replicas.join(', ')}): ${r.outcome ?? 'ongoing'}`);
  }
  if (cm.episodes > listed.length) lines.push(`  … and ${cm.episodes - listed.length} more`);
  return lines;
}

/** The live status line (a terminal only): after tick `t`, the core in `modeNext`, the mode it has for the next tick. */
export function statusLine(t: TickEvent, modeNext: Mode, totalTicks: number): string {
  const inService = t.replicaStatus.filter((s) => s === 'inService').length;
  const detected = t.faults.filter((f) => f.outcome === 'detected').length;
  const refused = t.faults.filter((f) => f.outcome === 'refused').length;
  return `tick ${t.tick + 1}/${totalTicks}  mode ${modeNext}  in service ${inService}/${t.replicaStatus.length}  faults ${detected}/${t.faults.length} detected${refused === 0 ? '' : `, ${refused} refused`}  unsafe ${t.unsafeCommands}  inputs ${t.inputs.join(' ')}`;
}

/** A value in its channel's unit, milli-degrees shown as degrees. */
function quantity(value: number, unit: string): string {
  return unit === 'mdeg' ? degrees(value) : `${value} ${unit}`;
}
