/**
 * The actuator side of a redundant voter set (issue 19), `tmr actuator --listen HOST:PORT`: the
 * one place the final selection happens. It holds the world (the law's simulated plant, or real
 * I/O: `--io`, a Firmata board driven through johnny-five), keeps the loop's tick clock, and
 * arbitrates between voters:
 *
 *  - every tick it senses the world and sends the inputs, numbered, to every voter connected
 *    (authenticated TCP); each voter forwards them to every replica and votes on the replies;
 *  - every voter sends back its voted command tagged (epoch, tick, primary or standby); the
 *    Arbiter (arbiter.ts) takes the current epoch's, refuses older epochs (STALE_EPOCH, the voter
 *    is told and steps down) and, after `silentTicksMax` ticks without one, takes the lowest newer
 *    standby's: takeover in a few ticks, not a lease's second;
 *  - while nothing is applied it holds the last command, and after `watchdogTicks` its safe values;
 *  - every decision goes to its own log (JSON lines), which the checker (checker.ts) reads;
 *  - with real I/O, a sensor whose fault outlasts its hold (the I/O map's policy) stops the run
 *    safe before that tick reaches any voter, as `tmr run` does (INPUT_FAULT).
 *
 * It audits what it applies independently of any voter: a reference instance of the law steps on
 * the same inputs, and a command that is neither the law's output for its tick nor the safe values
 * is counted unsafe.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { helloFor, type LoadedLaw } from '../law/law-runtime.js';
import { inputEventText, type InputEvent, type IoSummary, type LoopWorld, type PlantDefinition } from '../loop/world.js';
import { ReplicaLogic } from '../replica/replica-logic.js';
import type { PreSharedKey } from '../transport/key-file.js';
import { endpointText, listenTcp, TcpTransport } from '../transport/tcp-transport.js';
import { Arbiter, type ArbiterLogEntry } from './arbiter.js';
import { decodeActuatorMessage, encodeActuatorMessage } from './actuator-protocol.js';
import { checkActuatorLog } from './checker.js';

/** Profile length for a run without --ticks (the plants' profiles are bounded). */
const PROFILE_TICKS_UNBOUNDED = 10_000_000;
/** Voters served at once. */
export const ACTUATOR_SESSIONS_MAX = 8;
/** Reference outputs kept, ticks back: a command older than this cannot be audited (counted unsafe). */
const REFERENCE_TICKS_KEPT = 4_096;

/**
 * The run length a plant's setpoint profile spans (the simulated world's, or real I/O's inputs
 * bound to `profile`): the run's ticks, or without a length an hour (it holds its last value after).
 */
export function profileTicks(ticks: number, rateHz: number): number {
  return ticks === 0 ? Math.min(PROFILE_TICKS_UNBOUNDED, 3_600 * rateHz) : ticks;
}

export interface ActuatorServerOptions {
  readonly host: string;
  readonly port: number;
  readonly key: PreSharedKey;
  readonly law: LoadedLaw;
  readonly plant: PlantDefinition;
  /** Real I/O opened for this run (openIo), in place of the plant model; null: the plant's simulated world. */
  readonly world: LoopWorld | null;
  readonly rateHz: number;
  /** Ticks to run; then it stops by itself (0: until stop()). */
  readonly ticks: number;
  readonly seed: number;
  readonly silentTicksMax: number;
  /** Ticks without an applied command after which the world gets its safe values. */
  readonly watchdogTicks: number;
  /** The actuator's own log, JSON lines (null: none). */
  readonly logPath: string | null;
  /** The clock starts once this many voters are connected (each has its replicas configured by then; 0: at once). */
  readonly votersToStart: number;
  readonly log: (line: string) => void;
}

export interface ActuatorSummary {
  readonly ticks: number;
  readonly applied: number;
  readonly refusedStale: number;
  readonly refusedNotNewer: number;
  readonly takeovers: number;
  readonly newerPrimaries: number;
  readonly silentTicks: number;
  readonly longestGapTicks: number;
  /** Applied commands that were neither the law's output for their tick nor the safe values. */
  readonly unsafeCommands: number;
  /** Ticks the world got its safe values from the watchdog. */
  readonly watchdogTicks: number;
  readonly epochChanges: readonly { actuatorTick: number; from: number; to: number; why: string }[];
  readonly violations: readonly { kind: string; actuatorTick: number; detail: string }[];
  /** Ticks the actuator's own clock ran late by more than a period (its machine stalled). */
  readonly lateTicks: number;
  /** Real I/O only: what went over the wire (null: the plant model). */
  readonly io: IoSummary | null;
  /** The input fault that stopped the run safe (its hold ran out), or null. */
  readonly inputFault: { readonly channel: string; readonly reason: string; readonly tick: number; readonly heldTicks: number } | null;
}

export class ActuatorServer {
  readonly #arbiter: Arbiter;
  readonly #world: LoopWorld;
  readonly #reference: ReplicaLogic;
  readonly #referenceOutputs: Int32Array;
  readonly #inputs: Int32Array;
  readonly #held: Int32Array;
  readonly #safe: Int32Array;
  readonly #sessions = new Set<TcpTransport>();
  readonly #sockets = new Set<Socket>();
  readonly #entries: ArbiterLogEntry[] = [];
  readonly #logFd: number | null;
  #tick = 0;
  #silent = 0;
  #unsafe = 0;
  #watchdog = 0;
  #lateTicks = 0;
  #inputFault: ActuatorSummary['inputFault'] = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  readonly done: Promise<ActuatorSummary>;
  #finish: (summary: ActuatorSummary) => void = () => {};

  private constructor(
    private readonly server: Server,
    private readonly options: ActuatorServerOptions,
  ) {
    const law = options.law;
    this.#logFd = options.logPath === null ? null : openSync(options.logPath, 'w', 0o644);
    this.#arbiter = new Arbiter({
      silentTicksMax: options.silentTicksMax,
      // At start-up a voter's first votes run cold (JIT): a second for the primary's first command.
      startupSilentTicksMax: Math.max(options.silentTicksMax, options.rateHz),
      log: (entry) => {
        this.#entries.push(entry);
        if (this.#logFd !== null) writeSync(this.#logFd, `${JSON.stringify(entry)}\n`);
      },
    });
    this.#world = options.world ?? options.plant.create({ rateHz: options.rateHz, seed: options.seed, ticks: profileTicks(options.ticks, options.rateHz) });
    this.#reference = new ReplicaLogic(law, 'actuator-reference');
    const ack = this.#reference.onHello(helloFor(law, 0, law.paramsForRate(options.rateHz)));
    if (ack.kind !== 'helloAck') throw new Error(`the actuator's reference law refused its own parameters: ${ack.kind === 'error' ? ack.detail : 'helloAck'}`);
    this.#referenceOutputs = new Int32Array(REFERENCE_TICKS_KEPT * law.outputCount);
    this.#inputs = new Int32Array(law.inputCount);
    this.#safe = Int32Array.from(law.definition.outputs.map((c) => c.safe));
    this.#held = Int32Array.from(this.#safe);
    this.done = new Promise((resolve) => {
      this.#finish = resolve;
    });
    server.on('connection', (socket) => this.#onConnection(socket));
  }

  static async start(options: ActuatorServerOptions): Promise<ActuatorServer> {
    return new ActuatorServer(await listenTcp(options.host, options.port, options.log), options);
  }

  /** The input fault that stopped the run safe, or null. */
  get inputFault(): ActuatorSummary['inputFault'] {
    return this.#inputFault;
  }

  get address(): string {
    const a = this.server.address();
    return a === null || typeof a === 'string' ? endpointText(this.options.host, this.options.port) : endpointText(a.address, a.port);
  }

  #waiting = false;

  /** Starts the tick clock once votersToStart voters are connected: tick 0 is sensed and sent then. */
  run(): void {
    this.#waiting = true;
    this.#beginIfReady();
  }

  #beginIfReady(): void {
    if (!this.#waiting || this.#stopped || this.#sessions.size < this.options.votersToStart) return;
    this.#waiting = false;
    this.options.log(`${this.#sessions.size} voters connected: the clock starts at ${this.options.rateHz} Hz`);
    const periodMs = 1000 / this.options.rateHz;
    // Tick k is due at baseMs + k periods. A tick closed more than a period late (this machine
    // stalled) is counted, and the schedule starts again from it: tick numbers stay consecutive
    // (every replica steps each one), and no burst of back-to-back ticks follows a stall.
    let baseMs = performance.now();
    if (!this.#sense()) return;
    const next = (): void => {
      if (this.#stopped) return;
      const dueMs = baseMs + this.#tick * periodMs;
      const nowMs = performance.now();
      if (nowMs >= dueMs) {
        if (nowMs - dueMs > periodMs) {
          this.#lateTicks++;
          baseMs = nowMs - this.#tick * periodMs;
        }
        this.#closeTick();
        if (this.options.ticks !== 0 && this.#tick >= this.options.ticks) {
          void this.stop();
          return;
        }
        if (!this.#sense()) return;
      }
      this.#timer = setTimeout(next, Math.max(0, baseMs + this.#tick * periodMs - performance.now() - 0.5));
    };
    this.#timer = setTimeout(next, periodMs);
  }

  /**
   * Senses tick #tick, steps the reference on it and sends it to every voter. False when an input
   * fault's hold ran out on it: the tick goes nowhere and the run stops safe.
   */
  #sense(): boolean {
    const tick = this.#tick;
    this.#world.sense(tick, this.#inputs);
    const events = this.#world.inputHealth?.().events ?? [];
    for (const event of events) this.#onInputEvent(event);
    if (this.#inputFault !== null) {
      void this.stop();
      return false;
    }
    const outcome = this.#reference.onTick(tick, this.#inputs);
    if (!outcome.ok) throw new Error(`the actuator's reference law refused tick ${tick}: ${outcome.error.detail}`);
    const width = this.options.law.outputCount;
    this.#referenceOutputs.set(this.#reference.outputs, (tick % REFERENCE_TICKS_KEPT) * width);
    const frame = encodeActuatorMessage({ kind: 'inputs', tick, inputs: Array.from(this.#inputs) });
    for (const session of this.#sessions) session.send(frame);
    return true;
  }

  #onInputEvent(event: InputEvent): void {
    const channel = this.options.law.definition.inputs[event.channel]?.name ?? `input ${event.channel}`;
    this.options.log(`tick ${event.tick}: ${inputEventText(event, channel)}${event.kind === 'inputHoldExpired' ? ' (INPUT_FAULT)' : ''}`);
    if (event.kind === 'inputHoldExpired') this.#inputFault ??= { channel, reason: event.reason, tick: event.tick, heldTicks: event.heldTicks };
  }

  /** Closes tick #tick: the arbiter's decision goes to the world (or the held or safe values). */
  #closeTick(): void {
    const tick = this.#tick;
    const chosen = this.#arbiter.decide();
    if (chosen !== null) {
      this.#silent = 0;
      this.#audit(chosen.tick, chosen.commands);
      this.#held.set(chosen.commands);
      this.#world.actuate(tick, this.#held);
    } else {
      this.#silent++;
      if (this.#silent > this.options.watchdogTicks) {
        this.#watchdog++;
        this.#world.actuate(tick, this.#safe);
      } else {
        this.#world.actuate(tick, this.#held);
      }
    }
    this.#tick++;
  }

  #audit(tick: number, commands: readonly number[]): void {
    const width = this.options.law.outputCount;
    let isSafe = commands.length === width;
    let isLaw = commands.length === width && tick < this.#tick + 1 && this.#tick - tick < REFERENCE_TICKS_KEPT;
    for (let c = 0; c < width; c++) {
      if (commands[c] !== this.#safe[c]) isSafe = false;
      if (commands[c] !== this.#referenceOutputs[(tick % REFERENCE_TICKS_KEPT) * width + c]) isLaw = false;
    }
    if (!isSafe && !isLaw) {
      this.#unsafe++;
      if (this.#unsafe <= 10) this.options.log(`unsafe: the command applied for tick ${tick} (${commands.join(', ')}) is not the law's output for it`);
    }
  }

  #onConnection(socket: Socket): void {
    const from = endpointText(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.#stopped || this.#sessions.size + this.#sockets.size >= ACTUATOR_SESSIONS_MAX * 2) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    void TcpTransport.accept(socket, { key: this.options.key.key, timeoutMs: 5_000 }, `voter ${from}`).then((outcome) => {
      if (!outcome.ok) {
        this.options.log(`refused ${from} at the handshake: ${outcome.reason}`);
        return;
      }
      const transport = outcome.transport;
      if (this.#stopped || this.#sessions.size >= ACTUATOR_SESSIONS_MAX) {
        void transport.close();
        return;
      }
      this.#sessions.add(transport);
      this.options.log(`voter ${from} connected (epoch ${transport.peerEpoch})`);
      transport.onFrame((frame) => this.#onFrame(transport, frame));
      transport.onDown((reason) => {
        if (this.#sessions.delete(transport)) this.options.log(`voter ${from} gone: ${reason}`);
      });
      this.#beginIfReady();
    });
  }

  #onFrame(transport: TcpTransport, frame: Uint8Array): void {
    const decoded = decodeActuatorMessage(frame);
    if (!decoded.ok || decoded.message.kind !== 'command') {
      this.options.log(`refused a frame from ${transport.remote}: ${decoded.ok ? `unexpected ${decoded.message.kind}` : decoded.error}`);
      return;
    }
    const m = decoded.message;
    if (m.commands.length !== this.options.law.outputCount) {
      this.options.log(`refused a command from ${transport.remote}: ${m.commands.length} channels, the law has ${this.options.law.outputCount}`);
      return;
    }
    const reason = this.#arbiter.offer({ voterId: transport.peerEpoch, epoch: m.epoch, tick: m.tick, primary: m.primary, commands: m.commands });
    if (reason !== null) transport.send(encodeActuatorMessage({ kind: 'refused', epoch: m.epoch, tick: m.tick, reason, followed: this.#arbiter.epoch }));
  }

  async stop(): Promise<ActuatorSummary> {
    if (!this.#stopped) {
      this.#stopped = true;
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#world.enterSafeState();
      for (const session of this.#sessions) void session.close();
      for (const socket of this.#sockets) socket.destroy();
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      if (this.#logFd !== null) closeSync(this.#logFd);
      const c = this.#arbiter.counters;
      const check = checkActuatorLog(this.#entries, { gapTicksMax: this.options.watchdogTicks });
      this.#finish({
        ticks: this.#tick,
        applied: c.applied,
        refusedStale: c.refusedStale,
        refusedNotNewer: c.refusedNotNewer,
        takeovers: c.takeovers,
        newerPrimaries: c.newerPrimaries,
        silentTicks: c.silentTicks,
        longestGapTicks: check.longestGapTicks,
        unsafeCommands: this.#unsafe,
        watchdogTicks: this.#watchdog,
        epochChanges: check.epochChanges,
        violations: check.violations,
        lateTicks: this.#lateTicks,
        io: this.#world.ioSummary?.() ?? null,
        inputFault: this.#inputFault,
      });
    }
    return this.done;
  }
}
