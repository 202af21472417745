/**
 * The `tmr` command. Exit codes: 0 success; 1 the run failed (unsafe commands, could not start);
 * 2 bad usage; 3 an internal assertion failed (a bug: the actuator was sent to its safe state);
 * 4 the kill switch stopped the run (actuator safe, replicas stopped, log flushed); 130 interrupted.
 * The executable is bin/tmr.ts: it hands in the extensions that ship beside src/ (firmware-sim/,
 * hil/), which this module never imports (src/cli/extensions.ts).
 *
 * run, sim and demo are users of the library's runtime (src/api/tmr-runtime.ts): they print from
 * its events and summary, and map signals to its stop() and killSwitch().
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { TmrAssertionError } from '../core/assert.js';
import type { Mode } from '../core/degradation.js';
import type { RunSummary } from '../loop/loop-model.js';
import { inputEventText } from '../loop/world.js';
import { TmrRuntime } from '../api/tmr-runtime.js';
import type { BlackBoxStatus, Runtime, RuntimeSummary, TickEvent } from '../api/runtime-types.js';
import { parseDemoLaw, parseRunOptions, UsageError, withLawAndPlant, type CliRunOptions } from './options.js';
import { EXTENSIONS_ENV, ExtensionRegistry, importExtensions, type HelpEntry, type TmrExtension } from './extensions.js';
import { formatSummary, refusalText, statusLine } from './report.js';
import { EXIT_LOG_INCOMPLETE, logCommand, replayCommand } from './black-box-cli.js';
import { errnoMessage, type BlackBoxWriteFailure } from '../loop/black-box.js';
import { campaignCommand } from './campaign-cli.js';
import { LAW_HELP, lawCommand } from './law-cli.js';
import { FAILOVER_HELP, keyCommand, REPLICA_HELP, replicaCommand } from './replica-cli.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, assertion: 3, killSwitch: 4, interrupted: 130 } as const;

/** A help entry: its syntax at `indent`, the lines from `column` (on the next line when the syntax is too long). */
function helpEntry(entry: HelpEntry, indent: number, column: number): string {
  const head = `${' '.repeat(indent)}${entry.syntax}`;
  const [first, ...rest] = entry.lines;
  const pad = ' '.repeat(column);
  const lines = first !== undefined && head.length + 2 <= column ? [`${head.padEnd(column)}${first}`] : [head, ...(first === undefined ? [] : [`${pad}${first}`])];
  return [...lines, ...rest.map((line) => `${pad}${line}`)].map((line) => `${line}\n`).join('');
}

function helpText(extensions: ExtensionRegistry): string {
  const commands = extensions.commands.map((c) => helpEntry(c.help, 2, 23)).join('');
  const kinds = extensions.replicaKinds.map((k) => helpEntry(k.help, 26, 52)).join('');
  const actuators = extensions.actuators.map((a) => helpEntry({ syntax: `--actuator ${a.usage}`, lines: a.help }, 2, 24)).join('');
  const ios = extensions.ios.map((a) => helpEntry({ syntax: `--io ${a.usage}`, lines: a.help }, 2, 24)).join('');
  return `tmr — triple-modular-redundancy control runtime

usage:
  tmr run  [options]   real replica processes, real time, the simulated actuator and plant
  tmr sim  [options]   the same loop in-process, simulated time, as fast as possible
  tmr demo [--law tank]
                       a 12-second run with two faults on two replicas, explained
${commands}  tmr log FILE [--csv|--jsonl]
                       summarise a black-box log (run/sim --log FILE), or export it
  tmr replay FILE      re-run the voter and the control law over a log; every logged command
                       must be reproduced bit for bit (exit 1 if not)
  tmr campaign --seeds N [--from S] [--faults single|double|mixed] [--ticks T] [--workers W] [--law L] [--stack model|full] [--json]
                       N seeded fault schedules in the simulator, checked every tick, on W
                       worker processes (default: one per core); a failure prints its seed and
                       a command that replays it; --stack full runs the real runner in
                       simulated time over seeded links, stalls and damage instead of the model
  tmr campaign --seed S [--stack model|full] [--faults F] [--ticks T] --trace FILE|-
                       replay one seed of a campaign with its per-tick trace
  tmr ports            the serial ports on this machine (for --replica serial:PATH)
${LAW_HELP}${REPLICA_HELP}${FAILOVER_HELP}  tmr help             this text

options (run and sim):
  --law NAME|PATH       the control law: a shipped one (pid-q16, the default; tank) or your
                        module (.js or .ts, default export defineLaw({...}), see README)
  --plant NAME|PATH     the world it controls (default: the law's own; motor, tank, or a module)
  --replicas N          odd, 3..15 (default 3)
  --rate-hz R           tick rate, 1..2000 (default 200)
  --ticks N             run length in ticks (default 2000)
  --seed S              seed for sensor noise and fault details, 0..4294967295 (default 1)
  --inject SPEC         KIND:REPLICA@TICK[+TICKS], repeatable; KIND is one of
                        crash hang wrong stuck late babble state bitflip; e.g. --inject crash:1@500
  --simplex-policy P    with one replica left: 'safe' (default) or 'simplex'
  --deadline-us D       run only: reply deadline after a tick starts (default 75% of the period)
  --quorum-grace-us G   run only: when too few replies for a vote are in at the deadline, wait
                        up to G µs more for them rather than hold the last command; they count
                        as late all the same (default two periods; 0: never; at most 4)
  --start-policy P      run only: 'full' (default): refuse to start (exit 1) unless every
                        replica starts and answers, naming each that did not and why;
                        'degraded': start without them if enough are left to command
                        anything but SAFE (2, or 1 with --simplex-policy simplex)
  --recover             restart excluded replicas, re-synchronise them from the majority's
                        state and re-admit them after probation (off unless asked for)
  --probation-ticks P   with --recover: agreeing ticks before a returning replica counts (50)
  --restart-limit R/MS  with --recover: at most R restarts in any MS, else out for good (3/5000)
  --restart-backoff-ms B[/M]
                        with --recover: back-off after a quick failure, doubling to M (100/2000)
  --replica KIND        run: one per replica, in order (count must match --replicas):
${kinds}  --key-file FILE       run only: the pre-shared key of every tcp replica (HMAC-SHA256 on
                        each frame; tmr key FILE writes one; keyFile in a config file)
  --config FILE         the same settings as a JSON file: law, plant, replicaCount, replicas,
                        rateHz, ticks, seed, inject, simplexPolicy, deadlineUs, quorumGraceUs,
                        commonModeLimitMs, startPolicy, io, ioMap, recovery (true or {probationTicks, restartsMax,
                        restartWindowMs, backoffMsBase, backoffMsMax, coldRestart}); numbers and
                        booleans as JSON numbers and booleans; a key the command does not use
                        (replicas, deadlineUs, quorumGraceUs in sim) is an error; options with no
                        key (--json, --log, --trace, --actuator, --kill-*) may be added
  --trace FILE          sim only: write the canonical one-line-per-tick trace
  --log FILE            write the black-box log: every tick's inputs, replies, vote, mode and
                        command (CBOR records with CRCs; read with tmr log / tmr replay)
  --kill-error-rate N/W stop (exit 4, actuator safe) on more than N replica errors in W ticks
  --kill-quorum-loss K  stop when no majority-backed command was sent for more than K ticks
  --kill-after-ticks N  stop after N ticks (a tick budget)
  --kill-after-ms MS    run only: stop after MS of wall time; SIGUSR2 stops a run the same way
${actuators}${ios}  --io-map FILE         run only, with --io: which pin each law channel is wired to (JSON; see
                        boards/firmata/README.md); a stale or out-of-range sensor holds its last
                        value for the map's holdTicks, then the run stops safe (exit 4, INPUT_FAULT)
  --json                print one JSON summary object instead of the text summary

environment:
  ${EXTENSIONS_ENV}=PATH[,PATH…]
                        extension modules (.js or .ts) that add replica kinds, actuators or
                        commands (see README, "Extensions")
`;
}

const STATUS_PERIOD_MS = 100;

function exitCodeFor(summary: RunSummary): number {
  if (summary.unsafeCommands !== 0) return EXIT.failed;
  return summary.killSwitch === null ? EXIT.ok : EXIT.killSwitch;
}

/** The run's exit code with the log's state in it: a run that went well, with a log cut short, is EXIT_LOG_INCOMPLETE. */
function exitCodeWithLog(summary: PrintedSummary): number {
  const code = exitCodeFor(summary);
  return code === EXIT.ok && summary.blackBox?.complete === false ? EXIT_LOG_INCOMPLETE : code;
}

/** A summary as printed: `blackBox` (its path, whether it is whole, why not) when the run wrote a log. */
type PrintedSummary = RunSummary & { readonly blackBox?: BlackBoxStatus };

function print(summary: PrintedSummary, options: CliRunOptions, title: string): void {
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(`${formatSummary(summary, title)}\n`);
    const failure = summary.blackBox?.failure ?? null;
    if (failure !== null) {
      process.stdout.write(`black box: INCOMPLETE: ${failure.path}: write failed at tick ${failure.tick} (${failure.message}); holds ticks 0 to ${failure.lastTickOnDisk}, ${failure.recordsDropped} records not written\n`);
    }
  }
}

/** One line on stderr, once, the moment a log write fails: the loop goes on. */
function reportLogFailure(f: BlackBoxWriteFailure): void {
  const at = f.tick < 0 ? 'writing the header' : `tick ${f.tick}`;
  const kept = f.lastTickOnDisk < 0 ? 'no tick records' : `ticks 0 to ${f.lastTickOnDisk}`;
  process.stderr.write(`tmr: --log ${f.path}: write failed at ${at} (${f.message}); the log holds ${kept}${f.cutBack ? ', cut back to its last complete record' : ''}; the run goes on without it\n`);
}

/** `tmr sim`: the runtime in simulation, its trace written from its tick events. */
async function runSim(options: CliRunOptions, extensions: ExtensionRegistry): Promise<number> {
  if (options.traceFile !== null && options.ticks > 10_000_000) throw new UsageError('--trace is limited to runs of at most 10000000 ticks');
  const traceFile = options.traceFile;
  const fd = traceFile === null ? null : openTrace(traceFile);
  const runtime = new TmrRuntime(options, 'simulation', extensions, '--log');
  runtime.on('logFailure', reportLogFailure);
  let pending: string[] = [];
  if (fd !== null && traceFile !== null) {
    runtime.on('tick', (t) => {
      pending.push(t.traceLine());
      if (pending.length >= 4096) {
        writeTraceText(fd, traceFile, `${pending.join('\n')}\n`);
        pending = [];
      }
    });
  }
  // tmr sim's summary has never said interrupted: nothing stops a simulation from the command line.
  const { interrupted: _interrupted, ...summary } = await runtime.start();
  if (fd !== null && traceFile !== null) {
    if (pending.length > 0) writeTraceText(fd, traceFile, `${pending.join('\n')}\n`);
    closeSync(fd);
  }
  print(summary, options, 'tmr sim');
  return exitCodeWithLog(summary);
}

/** A trace write that fails names the file (an fd's errors carry no path of their own). */
function writeTraceText(fd: number, path: string, text: string): void {
  try {
    writeSync(fd, text);
  } catch (error) {
    throw new Error(`--trace ${path}: write failed (${errnoMessage(error)})`);
  }
}

function openTrace(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (error) {
    throw new UsageError(`--trace ${path}: cannot write (${errnoMessage(error)})`);
  }
}

/** With recovery on, one stderr line per exclusion, probation and re-admission, naming what replica i is now (its port, its process). */
function reportRecovery(runtime: Runtime, title: string, live: boolean): void {
  const line = (tick: number, text: string): void => {
    process.stderr.write(`${live ? '\r\x1b[K' : ''}${title}: tick ${tick}: ${text}\n`);
  };
  runtime.on('replicaExcluded', (e) => line(e.tick, `replica ${e.replicaIndex} excluded: ${e.reason} (${e.name})`));
  runtime.on('probationStarted', (e) => line(e.tick, `replica ${e.replicaIndex} restarted and re-synchronised, on probation (${e.name})`));
  runtime.on('replicaReadmitted', (e) => line(e.tick, `replica ${e.replicaIndex} re-admitted to the vote, counted from tick ${e.countedFromTick} (${e.name})`));
}

/** With real I/O, one stderr line per input fault, recovery and expired hold, naming the channel. */
function reportInputs(runtime: Runtime, options: CliRunOptions, title: string, live: boolean): void {
  const name = (channel: number): string => options.law.definition.inputs[channel]?.name ?? `input ${channel}`;
  runtime.on('inputFault', (e) => {
    process.stderr.write(`${live ? '\r\x1b[K' : ''}${title}: tick ${e.tick}: ${inputEventText(e, name(e.channel))}\n`);
  });
}

/** Every tick on a terminal, at most every STATUS_PERIOD_MS: the status line, redrawn in place. */
function showStatus(runtime: Runtime, totalTicks: number): void {
  let lastStatusMs = 0;
  // The core's mode after the tick: the last change decided in it, else the tick's own.
  let modeNext: Mode | null = null;
  runtime.on('modeChange', (e) => {
    modeNext = e.to;
  });
  runtime.on('tick', (t) => {
    const mode = modeNext ?? t.mode;
    modeNext = null;
    const now = Date.now();
    if (now - lastStatusMs < STATUS_PERIOD_MS) return;
    lastStatusMs = now;
    process.stderr.write(`\r\x1b[K${statusLine(t, mode, totalTicks)}`);
  });
}

/** `tmr run` (and the demo's run): the runtime in real time, printed from its events; signals map to stop() and killSwitch(). */
async function runReal(options: CliRunOptions, extensions: ExtensionRegistry, title = 'tmr run', observe?: (tick: TickEvent) => void): Promise<{ code: number; summary: RuntimeSummary }> {
  const runtime = new TmrRuntime(options, 'realtime', extensions, '--log');
  const live = !options.json && process.stderr.isTTY === true;
  // SIGINT, SIGTERM and SIGHUP stop the run in order: the actuator safe, the replicas stopped, the log's
  // end record written, exit 130. Every such signal is handled, not the first alone: a handler
  // registered once left the next Ctrl-C to the default action, which killed the voter mid-way
  // through its shutdown, with no safe command and no end record. The handlers stay for the life
  // of the process (they do not keep it alive): removed when the run ends, a signal between then
  // and the exit would end the process by signal rather than with the run's exit code.
  let stopSignals = 0;
  const stop = (signal: NodeJS.Signals): void => {
    // Said once: a finger on Ctrl-C must not flood the terminal.
    if (++stopSignals === 2) process.stderr.write(`${live ? '\r\x1b[K' : ''}${title}: ${signal} again: stopping already (safe command, replicas, black box first; SIGKILL ends it without them)\n`);
    runtime.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // The terminal closed: the same orderly stop (its default action would kill the voter outright).
  process.on('SIGHUP', stop);
  // SIGUSR2 is the operator's kill switch: safe command, replicas stopped, log flushed, exit 4.
  process.on('SIGUSR2', () => runtime.killSwitch('SIGUSR2 from outside (the operator kill switch)'));
  runtime.on('logFailure', reportLogFailure);
  // The actuator or real I/O, opened before the replicas start.
  runtime.on('attached', (a) => process.stderr.write(`${title}: ${a.kind}: ${a.description}\n`));
  // Said when it happens: the fault asked for did not run, and the summary will not explain a calm run by it.
  runtime.on('injectionRefused', (f) => process.stderr.write(`${live ? '\r\x1b[K' : ''}${title}: tick ${f.injectedTick}: ${f.kind} fault ${refusalText(f.replica, f.refusal!)}\n`));
  runtime.on('ready', (ready) => {
    // Without a terminal there is no status line: say once, for logs, when the loop starts. Each
    // replica by what it is (its port, its process); one out from the start says so.
    const names = ready.replicas.map((r) => `replica ${r.index}: ${r.name}${r.inService ? '' : ' (out)'}`);
    if (!live) process.stderr.write(`${title}: ${ready.inService} of ${options.replicaCount} replicas ready (${names.join(', ')}); ${options.ticks} ticks at ${options.rateHz} Hz\n`);
  });
  if (observe !== undefined) runtime.on('tick', observe);
  if (options.recovery.enabled) reportRecovery(runtime, title, live);
  if (options.io !== null) reportInputs(runtime, options, title, live);
  if (live) showStatus(runtime, options.ticks);
  const summary = await runtime.start();
  if (live) process.stderr.write('\r\x1b[K');
  print(summary, options, title);
  if (!options.json && 'timing' in summary) {
    const t = summary.timing;
    process.stdout.write(`timing: reply p50 ${t.replyP50Us} µs, p99 ${t.replyP99Us} µs, max ${t.replyMaxUs} µs; tick overruns ${t.tickOverruns}; quorum grace ${t.quorumGraceVoted} of ${t.quorumGraceTicks} ticks voted; wall ${t.wallMs} ms\n`);
    process.stdout.write(
      `host: late on ${t.hostLateTicks} ticks (a deadline handled over ${t.hostLateMarginMs} ms late; not held against any replica), latest ${t.deadlineLateMaxMs} ms; ticks sent after their start by p99 ${t.tickSendLateP99Ms} ms, max ${t.tickSendLateMaxMs} ms\n`,
    );
  }
  if (summary.interrupted) return { code: EXIT.interrupted, summary };
  return { code: exitCodeWithLog(summary), summary };
}

/** What the demo says before it runs, per shipped law. */
const DEMO_INTRO: Readonly<Record<string, readonly string[]>> = {
  'pid-q16': [
    'tmr demo: three replica processes run the same fixed-point position controller.',
    'Every 5 ms the voter sends them the same sensor reading, votes their motor commands',
    '2-out-of-3 and drives a simulated motor through a setpoint profile for 12 seconds.',
    'Two faults are injected on purpose:',
    '  at tick  700 replica 1 starts sending wrong commands (offset by 1.5 V) for 300 ticks;',
  ],
  tank: [
    'tmr demo --law tank: three replica processes run the same tank level controller.',
    'Every 5 ms the voter sends them the level setpoint, the level and the float switch, votes',
    'their valve (mid-value), pump and alarm commands and fills a simulated tank for 12 seconds.',
    'Two faults are injected on purpose:',
    '  at tick  700 replica 1 starts sending wrong valve openings for 300 ticks;',
  ],
};

async function demo(law: string, extensions: ExtensionRegistry): Promise<number> {
  const options = await withLawAndPlant(parseRunOptions(['--law', law, '--rate-hz', '200', '--ticks', '2400', '--seed', '7', '--inject', 'wrong:1@700+300', '--inject', 'hang:2@1700'], 'run', extensions));
  process.stdout.write(
    [
      ...DEMO_INTRO[law]!,
      '  at tick 1700 replica 2 hangs (its process is stopped with SIGSTOP).',
      'Watch the voter mask the first, drop to duplex, then go to the safe state when only',
      'one replica is left (a single replica cannot be checked, so by default it is not trusted).',
      '',
    ].join('\n'),
  );
  const runTicks: string[] = [];
  const simTicks: string[] = [];
  const record = (into: string[]) => (t: TickEvent) => into.push(`${t.commands.join(',')} ${t.commandSource} ${Array.from(t.flags).join('')}`);
  const { code, summary } = await runReal(options, extensions, 'tmr demo', record(runTicks));
  // The same run in simulation: what the real processes should have commanded, tick for tick.
  const simulation = new TmrRuntime(options, 'simulation', extensions, '--log');
  simulation.on('tick', record(simTicks));
  const sim = await simulation.start();
  const firstDifference = runTicks.findIndex((line, tick) => line.split(' ')[0] !== simTicks[tick]?.split(' ')[0]);
  process.stdout.write(
    [
      '',
      'What happened:',
      ...summary.faults.map(
        (f) =>
          `  - ${f.kind} on replica ${f.replica} at tick ${f.injectedTick}: ${f.refusal !== null ? refusalText(f.replica, f.refusal) : f.detectedTick === null ? 'not detected' : `detected ${f.detectionLatencyTicks} ticks later (${f.reason}), replica excluded`}`,
      ),
      `  - the actuator ${summary.unsafeCommands === 0 ? 'never saw a command that lacked a majority' : `saw ${summary.unsafeCommands} UNSAFE commands`}.`,
      `  - the deterministic simulation of the same run gives voted trace ${sim.votedTraceHash}; the real processes gave ${summary.votedTraceHash}${sim.votedTraceHash === summary.votedTraceHash ? ' — identical, tick for tick.' : ' — different:'}`,
      ...(firstDifference < 0 ? [] : [`    ${explainDifference(firstDifference, runTicks, simTicks)}`]),
      '',
      'Next: npx tmr run --inject crash:1@500 --ticks 2000   |   npx tmr help   |   npm test',
      '',
    ].join('\n'),
  );
  return code;
}

/** Why a real run's command first differed from the simulation's: always timing, never the vote. */
function explainDifference(tick: number, runTicks: readonly string[], simTicks: readonly string[]): string {
  const [runCommand, runSource, runFlags] = (runTicks[tick] ?? '').split(' ');
  const [simCommand, simSource] = (simTicks[tick] ?? '').split(' ');
  const late = [...(runFlags ?? '')].flatMap((flag, replica) => ((Number.parseInt(flag, 16) & 1) !== 0 ? [replica] : []));
  return (
    `at tick ${tick} the real run commanded ${runCommand} mV (${runSource}) where the simulation commanded ${simCommand} mV (${simSource}); ` +
    `replica${late.length === 1 ? '' : 's'} ${late.join(' and ') || 'none'} missed that deadline — this machine was too busy to run the replicas on time.`
  );
}

export async function main(argv: readonly string[], extensions: ExtensionRegistry): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(helpText(extensions));
    return EXIT.ok;
  }
  switch (command) {
    case 'run':
      return (await runReal(await withLawAndPlant(parseRunOptions(rest, 'run', extensions)), extensions)).code;
    case 'sim':
      return runSim(await withLawAndPlant(parseRunOptions(rest, 'sim', extensions)), extensions);
    case 'demo':
      return demo(parseDemoLaw(rest, Object.keys(DEMO_INTRO)), extensions);
    case 'log':
      return logCommand(rest);
    case 'replay':
      return replayCommand(rest);
    case 'campaign':
      return campaignCommand(rest);
    case 'law':
      return lawCommand(rest);
    case 'replica':
      return replicaCommand(rest);
    case 'key':
      return keyCommand(rest);
    case 'actuator':
      // Loaded on demand, as the runtime is: redundant voters need etcd's client and the arbiter.
      return (await import('./failover-cli.js')).actuatorCommand(rest, extensions);
    case 'voter':
      return (await import('./failover-cli.js')).voterCommand(rest);
    case 'ports':
      if (rest.length > 0) throw new UsageError(`tmr ports takes no options, got '${rest[0]}'`);
      // Loaded on demand: the command lives in ports.ts.
      process.stdout.write(await (await import('./ports.js')).listPorts());
      return EXIT.ok;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(helpText(extensions));
      return command === undefined ? EXIT.usage : EXIT.ok;
    default: {
      // A command an extension adds (hil/ adds `tmr hil`).
      const extension = extensions.command(command);
      if (extension === undefined) throw new UsageError(`unknown command '${command}' (try: tmr help)`);
      return extension.run(rest);
    }
  }
}

/** The built-in kinds, then `extensions`, then the modules TMR_EXTENSIONS names; then main. */
async function start(argv: readonly string[], extensions: readonly TmrExtension[]): Promise<number> {
  const registry = new ExtensionRegistry();
  for (const extension of extensions) registry.register(extension);
  for (const { extension, source } of await importExtensions(process.env[EXTENSIONS_ENV], process.cwd())) registry.register(extension, source);
  return main(argv, registry);
}

/**
 * `tmr ARGV` as a process (bin/tmr.ts): sets the exit code; a usage error or a failure is one line
 * on stderr, never a stack trace.
 */
export function runTmr(argv: readonly string[], extensions: readonly TmrExtension[]): void {
  // A reader that went away (tmr log FILE --csv | head) is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
  start(argv, extensions).then(
    (code) => exitWhenWritten(code),
    (error: unknown) => {
      if (error instanceof UsageError) {
        process.stderr.write(`tmr: ${error.message}\n`);
        exitWhenWritten(EXIT.usage);
      } else if (error instanceof TmrAssertionError) {
        process.stderr.write(`tmr: internal assertion failed: ${error.message} — the actuator was commanded safe; this is a bug, please report it\n`);
        exitWhenWritten(EXIT.assertion);
      } else {
        process.stderr.write(`tmr: ${error instanceof Error ? error.message : String(error)}\n`);
        exitWhenWritten(EXIT.failed);
      }
    },
  );
}

/**
 * Exits with `code` once stdout and stderr have taken everything written to them (a pipe to a slow
 * reader may still hold some), rather than when the event loop drains: while Node tears down
 * after a drained loop it has given signals back their default action, so a Ctrl-C then (one of
 * several pressed while a run stopped) ended the process by SIGINT instead of with the code the
 * run chose (measured: 40 of 40 such exits with SIGINT sent every 0.2 ms; none with process.exit).
 */
function exitWhenWritten(code: number): void {
  let streams = 2;
  // A write's callback runs once what was queued before it is written (or the stream has failed).
  const written = (): void => {
    if (--streams === 0) process.exit(code);
  };
  process.stdout.write('', written);
  process.stderr.write('', written);
}
