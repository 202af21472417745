/**
 * The `tmr` command. Exit codes: 0 success; 1 the run failed (unsafe commands, could not start);
 * 2 bad usage; 3 an internal assertion failed (a bug: the actuator was sent to its safe state);
 * 4 the kill switch stopped the run (actuator safe, replicas stopped, log flushed); 130 interrupted.
 * The executable is bin/tmr.ts: it hands in the extensions that ship beside src/ (firmware-sim/,
 * hil/), which this module never imports (src/cli/extensions.ts).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { TmrAssertionError } from '../core/assert.js';
import type { StepResult } from '../core/tmr-core.js';
import type { LoopModel, RunSummary } from '../loop/loop-model.js';
import { runRealtime, type RealtimeSummary } from '../runtime/realtime-runner.js';
import { runSimulation } from '../sim/simulator.js';
import { parseDemoLaw, parseRunOptions, UsageError, withLawAndPlant, type CliRunOptions, type SelectedActuator } from './options.js';
import { EXTENSIONS_ENV, ExtensionRegistry, importExtensions, type HelpEntry, type OpenedActuator, type TmrExtension } from './extensions.js';
import { formatSummary, refusalText, statusLine } from './report.js';
import { logCommand, replayCommand, RunLog } from './black-box-cli.js';
import { errnoMessage } from '../loop/black-box.js';
import { openIo, type OpenedIo } from '../io/open-io.js';
import { KillSwitch } from '../loop/kill-switch.js';
import { campaignCommand } from './campaign-cli.js';
import { LAW_HELP, lawCommand } from './law-cli.js';

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
${LAW_HELP}  tmr help             this text

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
${kinds}  --config FILE         the same settings as a JSON file: law, plant, replicaCount, replicas,
                        rateHz, ticks, seed, inject, simplexPolicy, deadlineUs, quorumGraceUs,
                        commonModeLimitMs, startPolicy, recovery (true or {probationTicks, restartsMax,
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
${actuators}  --json                print one JSON summary object instead of the text summary

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

/** The summary, with the black-box log's state when the run has one (`blackBox` in JSON: its path, whether it is whole, why not). */
function print(summary: RunSummary, options: CliRunOptions, title: string, log: RunLog | null = null): void {
  if (options.json) process.stdout.write(`${JSON.stringify(log === null ? summary : { ...summary, blackBox: log.status() })}\n`);
  else {
    process.stdout.write(`${formatSummary(summary, title)}\n`);
    const failure = log?.failure ?? null;
    if (failure !== null) {
      process.stdout.write(`black box: INCOMPLETE: ${failure.path}: write failed at tick ${failure.tick} (${failure.message}); holds ticks 0 to ${failure.lastTickOnDisk}, ${failure.recordsDropped} records not written\n`);
    }
  }
}

function runSim(options: CliRunOptions): number {
  if (options.traceFile !== null && options.ticks > 10_000_000) throw new UsageError('--trace is limited to runs of at most 10000000 ticks');
  const fd = options.traceFile === null ? null : openTrace(options.traceFile);
  let pending: string[] = [];
  const writeTrace: TickObserver = (model, result) => {
    if (fd === null) return;
    pending.push(model.traceLine(result));
    if (pending.length >= 4096) {
      writeTraceText(fd, options.traceFile as string, `${pending.join('\n')}\n`);
      pending = [];
    }
  };
  const log = options.logFile === null ? null : new RunLog(options.logFile);
  let summary: RunSummary;
  try {
    summary = runSimulation(options, {
      onTick: (model, result) => {
        if (result.tick === 0) log?.start(options, model);
        log?.tick(model, result);
        if (fd !== null) writeTrace(model, result);
      },
      ...(options.killSwitch === null ? {} : { killSwitch: new KillSwitch(options.killSwitch) }),
    });
    log?.end(summary, summary.killSwitch === null ? 'completed' : `killSwitch:${summary.killSwitch.trigger}`);
  } finally {
    log?.close();
  }
  if (fd !== null) {
    if (pending.length > 0) writeTraceText(fd, options.traceFile as string, `${pending.join('\n')}\n`);
    closeSync(fd);
  }
  print(summary, options, 'tmr sim', log);
  return log === null ? exitCodeFor(summary) : log.exitCode(exitCodeFor(summary));
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

function withoutReplicas(options: CliRunOptions): Omit<CliRunOptions, 'replicas'> {
  const { replicas: _replicas, ...rest } = options;
  return rest;
}

type TickObserver = (model: LoopModel, result: StepResult) => void;

/** With recovery on, one stderr line per exclusion, probation and re-admission, naming what replica i is now (its port, its process). */
function reportRecovery(title: string, result: StepResult, nameOf: (replicaIndex: number) => string, live: boolean): void {
  for (const event of result.events) {
    const pid = 'replicaIndex' in event ? ` (${nameOf(event.replicaIndex)})` : '';
    let text: string | null = null;
    if (event.kind === 'replicaExcluded') text = `replica ${event.replicaIndex} excluded: ${event.reason}${pid}`;
    else if (event.kind === 'probationStarted') text = `replica ${event.replicaIndex} restarted and re-synchronised, on probation${pid}`;
    // Decided at the end of this tick; counted from the next (the summary's readmittedTick, the log's in-service mask).
    else if (event.kind === 'replicaReadmitted') text = `replica ${event.replicaIndex} re-admitted to the vote, counted from tick ${event.tick + 1}${pid}`;
    if (text !== null) process.stderr.write(`${live ? '\r\x1b[K' : ''}${title}: tick ${event.tick}: ${text}\n`);
  }
}

/** `--actuator SCHEME:…`: the extension's actuator, open before the replicas start (its heavy modules load only now). */
async function openActuator(selected: SelectedActuator, title: string): Promise<OpenedActuator> {
  const opened = await selected.actuator.open(selected.target);
  process.stderr.write(`${title}: actuator: ${opened.description}\n`);
  return opened;
}

async function runReal(options: CliRunOptions, extensions: ExtensionRegistry, title = 'tmr run', observe?: TickObserver): Promise<{ code: number; summary: RealtimeSummary }> {
  const controller = new AbortController();
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
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // The terminal closed: the same orderly stop (its default action would kill the voter outright).
  process.on('SIGHUP', stop);
  // SIGUSR2 is the operator's kill switch: safe command, replicas stopped, log flushed, exit 4.
  const killSwitch = new KillSwitch(options.killSwitch ?? {});
  const kill = (): void => killSwitch.trip('SIGUSR2 from outside (the operator kill switch)');
  process.on('SIGUSR2', kill);
  let lastStatusMs = 0;
  let nameOf: (replicaIndex: number) => string = (i) => `replica ${i}`;
  let logStarted = false;
  const log = options.logFile === null ? null : new RunLog(options.logFile);
  const drive = options.actuator === null ? null : await openActuator(options.actuator, title);
  let io: OpenedIo | null = null;
  try {
    io = await openIo(options);
    if (io !== null) process.stderr.write(`${title}: io: ${io.description}\n`);
    const summary = await runRealtime(
      {
        ...withoutReplicas(options),
        handshakeTimeoutMs: 10_000,
        ...(options.replicas === null ? {} : { replicas: options.replicas }),
        providers: await extensions.providersFor(options.replicas),
      },
      {
        signal: controller.signal,
        killSwitch,
        ...(drive === null ? {} : { actuatorOut: (commands: Int32Array) => drive.deliver(commands) }),
        // Said when it happens: the fault asked for did not run, and the summary will not explain a calm run by it.
        onInjectionRefused: (f) => process.stderr.write(`${live ? '\r\x1b[K' : ''}${title}: tick ${f.injectedTick}: ${f.kind} fault ${refusalText(f.replica, f.refusal!)}\n`),
        // Without a terminal there is no status line: say once, for logs, when the loop starts.
        onReady: (inService, _pids, model, _pidOf, currentName) => {
          nameOf = currentName;
          log?.start(options, model);
          logStarted = true;
          // Each replica by what it is (its port, its process); one out from the start says so.
          const names = model.core.status.map((status, i) => `replica ${i}: ${currentName(i)}${status === 'inService' ? '' : ' (out)'}`);
          if (!live) process.stderr.write(`${title}: ${inService} of ${options.replicaCount} replicas ready (${names.join(', ')}); ${options.ticks} ticks at ${options.rateHz} Hz\n`);
        },
        onTick: (model: LoopModel, result: StepResult) => {
          log?.tick(model, result);
          observe?.(model, result);
          if (options.recovery.enabled && result.events.length > 0) reportRecovery(title, result, nameOf, live);
          if (!live) return;
          const now = Date.now();
          if (now - lastStatusMs < STATUS_PERIOD_MS) return;
          lastStatusMs = now;
          process.stderr.write(`\r\x1b[K${statusLine(model, options.ticks)}`);
        },
      },
      io === null ? {} : { world: io.world },
    );
    if (live) process.stderr.write('\r\x1b[K');
    // A run interrupted while its replicas started has no header to end (and ran no tick).
    if (logStarted) log?.end(summary, summary.interrupted ? 'interrupted' : summary.killSwitch !== null ? `killSwitch:${summary.killSwitch.trigger}` : 'completed');
    print(summary, options, title, log);
    if (!options.json) {
      const t = summary.timing;
      process.stdout.write(`timing: reply p50 ${t.replyP50Us} µs, p99 ${t.replyP99Us} µs, max ${t.replyMaxUs} µs; tick overruns ${t.tickOverruns}; quorum grace ${t.quorumGraceVoted} of ${t.quorumGraceTicks} ticks voted; wall ${t.wallMs} ms\n`);
      process.stdout.write(
        `host: late on ${t.hostLateTicks} ticks (a deadline handled over ${t.hostLateMarginMs} ms late; not held against any replica), latest ${t.deadlineLateMaxMs} ms; ticks sent after their start by p99 ${t.tickSendLateP99Ms} ms, max ${t.tickSendLateMaxMs} ms\n`,
      );
    }
    if (summary.interrupted) return { code: EXIT.interrupted, summary };
    return { code: log === null ? exitCodeFor(summary) : log.exitCode(exitCodeFor(summary)), summary };
  } finally {
    log?.close();
    await drive?.close();
    await io?.close();
  }
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
  const record = (into: string[]) => (_: LoopModel, r: StepResult) => into.push(`${r.commands.join(',')} ${r.commandSource} ${Array.from(r.flags).join('')}`);
  const { code, summary } = await runReal(options, extensions, 'tmr demo', record(runTicks));
  const sim = runSimulation(options, { onTick: record(simTicks) });
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
      return runSim(await withLawAndPlant(parseRunOptions(rest, 'sim', extensions)));
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
