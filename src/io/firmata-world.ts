/**
 * Real I/O: a loop world on a Firmata board (StandardFirmata on an Uno, or the simulated plant
 * board in CI), driven and read through johnny-five as an I/O map says (io-map.ts).
 *
 *   inputs   each analog or digital input is read through the board's IO plugin (johnny-five's
 *            io-plugins contract: `analogRead`, `digitalRead`, the calls its Sensor and Switch
 *            make), which reports every sampling interval (analog) or on change (digital). A
 *            sample is timestamped when it arrives and kept as the channel's latest; `sense`
 *            never waits for one. InputConditioner turns the latest samples and their ages (whole
 *            ticks) into channel values and input faults.
 *   outputs  johnny-five components: Servo, Motor (PWM + direction), Pin, Led, Relay. Every tick
 *            the voted command is written to each (johnny-five writes only what changed for a
 *            Servo), and the drive's heartbeat pin is toggled (its dead-man input).
 *   safe     enterSafeState writes every output channel's safe value (the law's) and stops the
 *            heartbeat: what the runtime does at the end, on a kill switch and on an assertion.
 *
 * A board that goes away mid-run (its port closes or errors) is recorded (`boardLost`); writes stop,
 * its samples stop, its inputs go stale and the fault policy takes the loop to its safe state.
 */
import { SerialPort } from 'serialport';
import firmataIo from 'firmata-io';
import five, { type Board, type IoPlugin } from 'johnny-five';
import type { LoadedLaw } from '../law/law-runtime.js';
import type { InputHealth, IoSummary, LoopWorld } from '../loop/world.js';
import { InputConditioner, wholeTicks, type ChannelSample } from './input-conditioner.js';
import { pinName, UNO_DIGITAL_PINS, type IoMap, type OutputBinding } from './io-map.js';

/** The world's fault, not ours: no board on the port, no Firmata answer, a sensor that never reports. */
export class IoError extends Error {
  override readonly name = 'IoError';
}

export interface FirmataWorldOptions {
  readonly path: string;
  readonly baudRate: number;
  readonly map: IoMap;
  readonly law: LoadedLaw;
  readonly rateHz: number;
  /** The host's setpoint at a tick, for inputs bound to `profile`. */
  readonly setpointAt: (tick: number) => number;
  /** How long to wait for the board's Firmata version report, and then for every sensor's first sample. */
  readonly readyTimeoutMs?: number;
  /** The clock samples are stamped with, ms (default: performance.now). */
  readonly nowMs?: () => number;
}

/** How many per-tick sample ages are kept for the summary's percentiles. */
const AGE_SAMPLES_MAX = 100_000;
const READY_TIMEOUT_MS_DEFAULT = 10_000;
/** How long close waits for the board to confirm it has taken the last writes. */
const CLOSE_CONFIRM_MS = 2_000;

interface OutputDriver {
  /** Writes the channel's value; returns whether a write went out (a Servo skips unchanged values). */
  write(value: number): void;
}

export class FirmataWorld implements LoopWorld {
  readonly actuatorCounters = { watchdogTrips: 0, commandsRejected: 0 };
  private readonly conditioner: InputConditioner;
  private readonly periodMs: number;
  private readonly nowMs: () => number;
  /** Per input channel: the latest raw sample and when it arrived (NaN: none yet). */
  private readonly latestRaw: Float64Array;
  private readonly latestAtMs: Float64Array;
  private readonly samplesByChannel: Uint32Array;
  private readonly writesByChannel: Uint32Array;
  private readonly samples: (ChannelSample | null)[];
  private readonly ageMs = new Float64Array(AGE_SAMPLES_MAX);
  private ageCount = 0;
  private ageMaxMs = 0;
  private drivers: OutputDriver[] = [];
  private heartbeat: InstanceType<typeof five.Pin> | null = null;
  private heartbeatLevel = false;
  private heartbeatEdges = 0;
  private health: InputHealth = { events: [], holding: 0 };
  private safe = false;
  private tick = -1;
  private lost: { tick: number; detail: string } | null = null;
  private port: SerialPort | null = null;
  /** firmata-io's instance: its version-report timer is cleared on close (a board that never answered leaves it armed). */
  private firmata: InstanceType<typeof firmataIo.Firmata> | null = null;

  private constructor(private readonly options: FirmataWorldOptions) {
    const inputs = options.map.inputs;
    this.periodMs = 1000 / options.rateHz;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.conditioner = new InputConditioner(
      options.law.definition,
      inputs,
      inputs.map((b) => (b.source === 'analog' ? Math.max(1, wholeTicks(b.staleAfterMs, this.periodMs)) : 0)),
      options.setpointAt,
    );
    this.latestRaw = new Float64Array(inputs.length).fill(Number.NaN);
    this.latestAtMs = new Float64Array(inputs.length).fill(Number.NaN);
    this.samplesByChannel = new Uint32Array(inputs.length);
    this.writesByChannel = new Uint32Array(options.map.outputs.length);
    this.samples = inputs.map(() => null);
  }

  /** Opens the port, waits for Firmata, binds every channel and waits for every sensor's first sample. */
  static async open(options: FirmataWorldOptions): Promise<FirmataWorld> {
    const world = new FirmataWorld(options);
    try {
      await world.connect();
    } catch (error) {
      await world.close();
      throw error;
    }
    return world;
  }

  get description(): string {
    return `firmata:${this.options.path}@${this.options.baudRate} (I/O map ${this.options.map.source})`;
  }

  private async connect(): Promise<void> {
    const { path, baudRate, map } = this.options;
    const timeoutMs = this.options.readyTimeoutMs ?? READY_TIMEOUT_MS_DEFAULT;
    const what = `--io firmata:${path}`;
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(new IoError(`${what}: cannot open the port: ${error.message}`)) : resolve())));
    this.port = port;
    port.on('close', () => this.boardGone('the port closed'));
    port.on('error', (error: Error) => this.boardGone(`port error: ${error.message}`));
    const io = new firmataIo.Firmata(port, { reportVersionTimeout: Math.max(100, Math.floor(timeoutMs / 2)), samplingInterval: map.samplingIntervalMs });
    this.firmata = io;
    const board = new five.Board({ io, repl: false, debug: false, sigint: false, timeout: timeoutMs * 4, id: `tmr-io-${path}` });
    // firmata-io says 'connect' when it opens its transport itself; this port was opened above (to
    // name a failure to open it), so say it here, or johnny-five never becomes ready.
    io.emit('connect');
    await waitFor(board, 'ready', timeoutMs, `${what} @${baudRate}`, `no Firmata version report within ${timeoutMs} ms (is StandardFirmata flashed, and is this the board's port?)`);
    // From here a board or transport error is the board going away, never an unhandled 'error'
    // event (which Node would turn into a crash of the voter).
    board.on('error', (error: unknown) => this.boardGone(`board error: ${error instanceof Error ? error.message : String(error)}`));
    io.on('error', (error: unknown) => this.boardGone(`Firmata error: ${error instanceof Error ? error.message : String(error)}`));
    const plugin = board.io as IoPlugin;
    plugin.setSamplingInterval?.(map.samplingIntervalMs);
    this.countWrites(plugin);
    this.bindInputs(plugin);
    this.drivers = map.outputs.map((binding) => this.driverFor(board, binding));
    this.heartbeat = new five.Pin({ pin: map.heartbeatPin, board, type: 'digital' });
    await this.firstSamples(timeoutMs, what);
    // What every sensor read while the world opened: each channel's last good value before tick 0.
    this.conditioner.prime(this.options.map.inputs.map((_, c) => (Number.isNaN(this.latestAtMs[c]!) ? null : { raw: this.latestRaw[c]!, ageTicks: 0 })));
  }

  private bindInputs(plugin: IoPlugin): void {
    this.options.map.inputs.forEach((binding, c) => {
      if (binding.source === 'analog') {
        // Firmata's IO plugin numbers analog pins by channel (A0 = 0) for ANALOG mode and reads.
        const channel = binding.pin - UNO_DIGITAL_PINS;
        plugin.pinMode(channel, plugin.MODES.ANALOG);
        plugin.analogRead(channel, (raw) => this.sample(c, raw));
      } else if (binding.source === 'digital') {
        const pullUp = plugin.MODES.PULLUP;
        if (binding.pullUp && pullUp === undefined) throw new IoError(`${this.options.map.source}: inputs: the board's IO plugin has no pull-up mode for pin ${pinName(binding.pin)}`);
        plugin.pinMode(binding.pin, binding.pullUp ? (pullUp as number) : plugin.MODES.INPUT);
        plugin.digitalRead(binding.pin, (level) => this.sample(c, level));
      }
    });
  }

  private sample(channel: number, raw: number): void {
    if (this.lost !== null) return;
    this.latestRaw[channel] = raw;
    this.latestAtMs[channel] = this.nowMs();
    this.samplesByChannel[channel]!++;
  }

  private async firstSamples(timeoutMs: number, what: string): Promise<void> {
    const deadlineMs = Date.now() + timeoutMs;
    const waiting = (): number[] => this.options.map.inputs.flatMap((b, c) => ((b.source === 'analog' || b.source === 'digital') && Number.isNaN(this.latestAtMs[c]!) ? [c] : []));
    // Bounded by the deadline.
    while (waiting().length > 0) {
      if (this.lost !== null) throw new IoError(`${what}: the board went away before every sensor reported (${this.lost.detail})`);
      if (Date.now() >= deadlineMs) {
        const names = waiting().map((c) => {
          const b = this.options.map.inputs[c] as { source: string; pin: number };
          return `${this.options.law.definition.inputs[c]!.name} (${b.source} pin ${pinName(b.pin)})`;
        });
        throw new IoError(`${what}: no reading within ${timeoutMs} ms from ${names.join(', ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Counts the writes that reach the IO plugin, per output channel, whatever the component. */
  private countWrites(plugin: IoPlugin): void {
    const channelOfPin = new Map<number, number>();
    this.options.map.outputs.forEach((b, c) => {
      if (b.actuator === 'motor') {
        channelOfPin.set(b.pwmPin, c);
        channelOfPin.set(b.dirPin, c);
      } else if (b.actuator !== 'none') channelOfPin.set(b.pin, c);
    });
    // firmata-io's servoWrite calls its own analogWrite: a write is counted where it enters, once.
    let depth = 0;
    const wrap = (name: 'servoWrite' | 'digitalWrite' | 'analogWrite' | 'pwmWrite'): void => {
      const original = plugin[name];
      if (original === undefined) return;
      plugin[name] = ((pin: number, value: number) => {
        if (this.lost !== null) return plugin;
        const channel = channelOfPin.get(pin);
        if (channel !== undefined && depth === 0) this.writesByChannel[channel]!++;
        depth++;
        try {
          return original.call(plugin, pin, value);
        } finally {
          depth--;
        }
      }) as never;
    };
    wrap('servoWrite');
    wrap('digitalWrite');
    wrap('analogWrite');
    wrap('pwmWrite');
  }

  private driverFor(board: Board, binding: OutputBinding): OutputDriver {
    switch (binding.actuator) {
      case 'servo': {
        const [low, high] = binding.value;
        const span: [number, number] = [Math.min(low, high), Math.max(low, high)];
        const servo = new five.Servo({ pin: binding.pin, board, pwmRange: [binding.pwmRangeUs[0], binding.pwmRangeUs[1]], degreeRange: [low, high], range: span });
        return { write: (value) => servo.to(Math.max(span[0], Math.min(span[1], value))) };
      }
      case 'motor': {
        const motor = new five.Motor({ pins: { pwm: binding.pwmPin, dir: binding.dirPin }, board });
        let last = Number.NaN;
        return {
          write: (value) => {
            const speed = Math.min(255, Math.round((Math.abs(value) * 255) / binding.valueMax));
            const signed = value < 0 ? -speed : speed;
            if (signed === last) return;
            last = signed;
            if (speed === 0) motor.stop();
            else if (value > 0) motor.forward(speed);
            else motor.reverse(speed);
          },
        };
      }
      case 'pin':
      case 'led':
      case 'relay': {
        const on = binding.onAtOrAbove;
        const device =
          binding.actuator === 'pin'
            ? (() => {
                const pin = new five.Pin({ pin: binding.pin, board, type: 'digital' });
                return { set: (high: boolean) => (high ? pin.high() : pin.low()) };
              })()
            : binding.actuator === 'led'
              ? (() => {
                  const led = new five.Led({ pin: binding.pin, board });
                  return { set: (high: boolean) => (high ? led.on() : led.off()) };
                })()
              : (() => {
                  const relay = new five.Relay({ pin: binding.pin, board, type: 'NO' });
                  return { set: (high: boolean) => (high ? relay.close() : relay.open()) };
                })();
        let last: boolean | null = null;
        return {
          write: (value) => {
            const high = value >= on;
            if (high === last) return;
            last = high;
            device.set(high);
          },
        };
      }
      case 'none':
        return { write: () => {} };
    }
  }

  sense(tick: number, inputs: Int32Array): void {
    this.tick = tick;
    const nowMs = this.nowMs();
    for (let c = 0; c < this.samples.length; c++) {
      const atMs = this.latestAtMs[c]!;
      // A board gone away reports nothing more: its readings age out by the map's stale bound, as a
      // silent sensor's do (the HIL library's board-vanishes scenarios bound the time to safe so).
      if (Number.isNaN(atMs)) {
        this.samples[c] = null;
        continue;
      }
      const ageMs = Math.max(0, nowMs - atMs);
      if (this.options.map.inputs[c]!.source === 'analog') {
        if (this.ageCount < AGE_SAMPLES_MAX) this.ageMs[this.ageCount++] = ageMs;
        if (ageMs > this.ageMaxMs) this.ageMaxMs = ageMs;
      }
      this.samples[c] = { raw: this.latestRaw[c]!, ageTicks: wholeTicks(ageMs, this.periodMs) };
    }
    this.health = this.conditioner.condition(tick, this.samples, inputs);
  }

  inputHealth(): InputHealth {
    return this.health;
  }

  actuate(_tick: number, commands: Int32Array): void {
    if (this.safe || this.lost !== null) return;
    for (let c = 0; c < this.drivers.length; c++) this.drivers[c]!.write(commands[c] as number);
    this.heartbeatLevel = !this.heartbeatLevel;
    this.heartbeatEdges++;
    if (this.heartbeatLevel) this.heartbeat?.high();
    else this.heartbeat?.low();
  }

  enterSafeState(): void {
    if (this.lost !== null || this.drivers.length === 0) {
      this.safe = true;
      return;
    }
    // Written even if safe already: an assertion may come after a kill switch; the writes are idempotent.
    const outputs = this.options.law.definition.outputs;
    for (let c = 0; c < this.drivers.length; c++) this.drivers[c]!.write(outputs[c]!.safe);
    this.safe = true;
  }

  ioSummary(): IoSummary {
    const ages = this.ageMs.subarray(0, this.ageCount).slice().sort();
    const at = (q: number): number => (ages.length === 0 ? 0 : round2(ages[Math.min(ages.length - 1, Math.floor(q * ages.length))]!));
    const inputNames = this.options.law.definition.inputs;
    const outputNames = this.options.law.definition.outputs;
    return {
      description: this.description,
      sensorSamples: this.samplesByChannel.reduce((a, b) => a + b, 0),
      actuatorWrites: this.writesByChannel.reduce((a, b) => a + b, 0),
      heartbeatEdges: this.heartbeatEdges,
      sampleAgeMs: { p50: at(0.5), p99: at(0.99), max: round2(this.ageMaxMs) },
      inputFaultTicks: { ...this.conditioner.faultTicks },
      inputs: inputNames.map((c, i) => ({ channel: c.name, samples: this.samplesByChannel[i]!, faults: this.conditioner.faultsBegun[i]! })),
      outputs: outputNames.map((c, i) => ({ channel: c.name, writes: this.writesByChannel[i]! })),
      boardLost: this.lost,
    };
  }

  private boardGone(detail: string): void {
    this.lost ??= { tick: this.tick, detail };
  }

  /** Closes the port (the safe values were written by enterSafeState first, if the board was there). */
  async close(): Promise<void> {
    const firmata = this.firmata;
    if (firmata !== null) clearTimeout(firmata.reportVersionTimeoutId);
    const port = this.port;
    this.port = null;
    if (port === null || !port.isOpen) return;
    // The board handles what it receives in order: its answer to a firmware query says it has
    // taken every write before it, the safe values among them. Waited for up to CLOSE_CONFIRM_MS.
    if (firmata !== null && this.lost === null && this.drivers.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_CONFIRM_MS);
        firmata.queryFirmware(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // Let the last writes (the safe values) leave before the port closes.
    await new Promise<void>((resolve) => port.drain(() => resolve()));
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

/** Waits for `event`; a timeout or an error is an IoError `where: why`. */
function waitFor(board: Board, event: 'ready', timeoutMs: number, where: string, timeoutWhy: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (board.timer !== null) clearTimeout(board.timer);
      reject(new IoError(`${where}: ${timeoutWhy}`));
    }, timeoutMs);
    board.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
    board.once('error', (error: unknown) => {
      clearTimeout(timer);
      reject(new IoError(`${where}: ${error instanceof Error ? error.message : String(error)}`));
    });
  });
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
