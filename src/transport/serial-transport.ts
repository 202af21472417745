/**
 * A Transport over a serial port (serialport 13): a board on /dev/ttyACM0, or a pseudo-terminal
 * standing in for one. Received bytes go through BoundedDelimiterParser (serialport's
 * DelimiterParser with a bound), sent frames through serialport's stream with a bounded queue.
 *
 * A serial port can vanish and come back (a USB cable pulled and plugged in again, a board that
 * re-enumerates after a reset). When it vanishes the link goes down once, with a reason naming the
 * path, and the same path is re-opened in the background with exponential back-off; when that
 * succeeds the up handler fires and frames flow again. Down fires once per loss, so after an up it
 * may fire again. close() ends all of it.
 *
 * What vanishing looks like on Linux (measured on a socat pty pair killed with SIGKILL): the kernel
 * hangs the tty up. Usually, within 2–3 ms, the binding's poller reports "bad file descriptor"
 * (POLLERR) or the pending read fails with EIO, and serialport closes the port and emits 'close'
 * with a DisconnectedError. But if a read is in flight at the moment of the hang-up, it returns 0
 * bytes, and @serialport/bindings-cpp 13.0.0 retries a 0-byte read at once, for ever: no event,
 * a thread and the event loop kept busy. So a liveness probe asks the port for its modem lines
 * every LIVENESS_PROBE_PERIOD_MS: a hung-up tty answers EIO (a live pty ENOTTY, a live port its
 * lines), and then the port is closed here, which also ends the spinning read. A send to a hung-up
 * tty fails with EIO as well, which serialport reports as a disconnect. The path meanwhile is a
 * dangling link or a missing node (ENOENT) until the device comes back.
 */
import { SerialPort } from 'serialport';
import { getSystemErrorMap } from 'node:util';
import { assert } from '../core/assert.js';
import { BoundedDelimiterParser } from '../protocol/bounded-delimiter-parser.js';
import { LIMITS } from '../protocol/messages.js';
import { createTransportStats, QUEUED_BYTES_MAX, type DownHandler, type FrameHandler, type Transport, type TransportStats } from './transport.js';

/**
 * Largest single write handed to the binding. Node's stream joins everything queued into one
 * write; @serialport/bindings-cpp 13.0.0's Linux poller stops watching for "readable" while a
 * write waits on EAGAIN, which can stall both directions for good (seen with writes of hundreds of
 * KB). Small writes keep far from that: a frame is at most LIMITS.frameBytesMax bytes.
 */
export const WRITE_BYTES_MAX = 1024;
/**
 * How often an open port is asked whether it is still there (see the file comment): the bound on
 * noticing a vanished port when serialport itself misses it. One ioctl on the thread pool.
 */
export const LIVENESS_PROBE_PERIOD_MS = 100;
/** How long DTR is held low to reset a board (an Arduino resets on the falling edge). */
export const DTR_PULSE_MS = 50;

export interface ReopenBackoff {
  /** Wait before the first re-open attempt after the port vanished, in ms. */
  readonly initialDelayMs: number;
  /** The wait doubles after every failed attempt up to this, in ms. */
  readonly maxDelayMs: number;
}

export const REOPEN_BACKOFF_DEFAULT: ReopenBackoff = { initialDelayMs: 50, maxDelayMs: 1_000 };

/**
 * What serialport asks of a binding (the parts of its BindingInterface named here; the port object
 * open() resolves to is serialport's business): SerialPort.binding by default, a mock in tests.
 */
export interface SerialBinding {
  list(): Promise<unknown[]>;
  open(options: { readonly path: string; readonly baudRate: number }): Promise<unknown>;
}

export interface SerialTransportOptions {
  /** Device path, e.g. /dev/ttyACM0 or /dev/serial/by-id/usb-Arduino…; a symbolic link is fine. */
  readonly path: string;
  readonly baudRate: number;
  /** Prefix for messages, e.g. "replica 1". */
  readonly name: string;
  readonly reopen?: ReopenBackoff;
  readonly binding?: SerialBinding;
}

export type SerialOpenProblem = 'noSuchPort' | 'permissionDenied' | 'busy' | 'notSerialPort' | 'other';

/** open() failed; the message is one line naming the path and the problem in plain words. */
export class SerialOpenError extends Error {
  override readonly name = 'SerialOpenError';
  constructor(
    message: string,
    readonly path: string,
    readonly problem: SerialOpenProblem,
    /** The OS error code (ENOENT, EACCES, …) when one is known. */
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export type UpHandler = () => void;
export type ResetResult = 'dtr-pulse' | 'unsupported';

type ErrorCallback = (error: Error | null) => void;
interface QueuedChunk {
  chunk: Buffer;
  encoding: BufferEncoding;
}

/** serialport's stream with an injectable binding and writes of at most WRITE_BYTES_MAX bytes. */
class BoundedWriteSerialPort extends SerialPort {
  constructor(path: string, baudRate: number, binding: SerialBinding) {
    // SerialPort's option type leaves `binding` out, but its constructor prefers one given to its
    // default (SerialPort.binding): that is how a mock binding gets in.
    const withBinding = { binding };
    // lock: no second process may open the port (flock; Windows always locks).
    super({ path, baudRate, autoOpen: false, lock: true, ...withBinding });
  }

  /** Upstream joins every queued chunk into one write of any size; here groups stay small. */
  override _writev(chunks: QueuedChunk[], callback: ErrorCallback): void {
    let next = 0;
    const writeGroup = (error: Error | null): void => {
      if (error !== null || next >= chunks.length) {
        callback(error);
        return;
      }
      const group: Buffer[] = [];
      let groupBytes = 0;
      // Bounded by chunks.length; a single chunk larger than the bound still goes whole.
      while (next < chunks.length) {
        const chunk = (chunks[next] as QueuedChunk).chunk;
        if (group.length > 0 && groupBytes + chunk.length > WRITE_BYTES_MAX) break;
        group.push(chunk);
        groupBytes += chunk.length;
        next++;
      }
      this._write(group.length === 1 ? (group[0] as Buffer) : Buffer.concat(group, groupBytes), 'binary', writeGroup);
    };
    writeGroup(null);
  }
}

export class SerialTransport implements Transport {
  readonly stats: TransportStats = createTransportStats();
  readonly description: string;
  readonly path: string;
  readonly baudRate: number;
  private readonly name: string;
  private readonly binding: SerialBinding;
  private readonly backoff: ReopenBackoff;

  private port: BoundedWriteSerialPort | null = null;
  private parser: BoundedDelimiterParser | null = null;
  /** Over-long frames counted by the parsers of earlier connections. */
  private overlongFramesBefore = 0;

  private frameHandler: FrameHandler = () => {};
  private downHandler: DownHandler = () => {};
  private upHandler: UpHandler = () => {};
  private down = false;
  private downReason: string | null = null;

  /** Set by close(): no more re-opening, no more down reasons. */
  private closeRequested = false;
  private closing: Promise<void> | null = null;
  private reopenTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private reopening: Promise<void> | null = null;
  /** The close of a port that went away, still releasing its file descriptor. */
  private releasing: Promise<void> = Promise.resolve();
  private reopenDelayMs: number;
  private reopenAttemptCount = 0;
  private reconnectCount = 0;
  private lastReopenFailure: string | null = null;

  private constructor(options: SerialTransportOptions, binding: SerialBinding, port: BoundedWriteSerialPort) {
    this.path = options.path;
    this.baudRate = options.baudRate;
    this.name = options.name;
    this.binding = binding;
    this.backoff = options.reopen ?? REOPEN_BACKOFF_DEFAULT;
    this.reopenDelayMs = this.backoff.initialDelayMs;
    this.description = `${options.name} (${options.path}@${options.baudRate})`;
    this.attach(port);
  }

  /** Opens the port; rejects with a SerialOpenError (one line: the path and what is wrong). */
  static async open(options: SerialTransportOptions): Promise<SerialTransport> {
    const backoff = options.reopen ?? REOPEN_BACKOFF_DEFAULT;
    assert(Number.isInteger(options.baudRate) && options.baudRate > 0, `SerialTransport: bad baudRate ${options.baudRate}`);
    assert(backoff.initialDelayMs > 0 && backoff.maxDelayMs >= backoff.initialDelayMs, `SerialTransport: bad reopen back-off ${JSON.stringify(backoff)}`);
    const binding = options.binding ?? (SerialPort.binding as SerialBinding);
    const port = await openPort(options.name, options.path, options.baudRate, binding);
    return new SerialTransport(options, binding, port);
  }

  get isUp(): boolean {
    return !this.down;
  }

  /** Times the port came back after vanishing. */
  get reconnects(): number {
    return this.reconnectCount;
  }

  /** Re-open attempts since the transport was opened, failed or not. */
  get reopenAttempts(): number {
    return this.reopenAttemptCount;
  }

  /** Why the last re-open attempt failed (one line), or null. */
  get lastReopenError(): string | null {
    return this.lastReopenFailure;
  }

  /** Outgoing bytes queued in the port's stream, not yet taken by the OS. */
  get queuedBytes(): number {
    return this.port?.writableLength ?? 0;
  }

  /** Bytes the parser holds waiting for a delimiter (never more than LIMITS.frameBytesMax). */
  get bufferedBytes(): number {
    return this.parser?.buffer.length ?? 0;
  }

  onFrame(handler: FrameHandler): void {
    this.frameHandler = handler;
  }

  /** Fires once per loss of the link (and once for close()); a late handler hears a current loss. */
  onDown(handler: DownHandler): void {
    this.downHandler = handler;
    if (this.down && this.downReason !== null) handler(this.downReason);
  }

  /** Fires each time the port, having vanished, is open again. */
  onUp(handler: UpHandler): void {
    this.upHandler = handler;
  }

  /**
   * Queues one frame. The port writes asynchronously: the frame's bytes must stay unchanged until
   * written (frames from encodeMessage are fresh arrays).
   */
  send(frame: Uint8Array): boolean {
    const port = this.port;
    if (this.down || port === null || !port.isOpen || port.writableLength + frame.length > QUEUED_BYTES_MAX) {
      this.stats.sendsDropped++;
      return false;
    }
    port.write(frame);
    this.stats.bytesOut += frame.length;
    this.stats.framesOut++;
    return true;
  }

  /**
   * Resets the board by pulsing DTR low for DTR_PULSE_MS. 'unsupported' when the port has no
   * modem lines (a pty: "Inappropriate ioctl for device") or is not open now. Never throws.
   */
  async resetBoard(): Promise<ResetResult> {
    const port = this.port;
    if (port === null || !port.isOpen) return 'unsupported';
    if ((await setModemLines(port, { dtr: false })) !== null) return 'unsupported';
    await new Promise((resolve) => setTimeout(resolve, DTR_PULSE_MS));
    // If the port vanished meanwhile there is nothing to raise DTR on; the pulse happened.
    await setModemLines(port, { dtr: true });
    return 'dtr-pulse';
  }

  /** Stops re-opening and closes the port; resolves when it is closed. Idempotent. */
  close(): Promise<void> {
    if (this.closing === null) {
      this.closeRequested = true;
      this.closing = this.closeOnce();
    }
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    clearInterval(this.probeTimer);
    this.markDown(`${this.path} closed by the host`);
    // An attempt in flight sees closeRequested and closes what it opened.
    if (this.reopening !== null) await this.reopening;
    const port = this.port;
    if (port !== null) {
      this.detach();
      await closePort(port);
    }
    await this.releasing;
  }

  private attach(port: BoundedWriteSerialPort): void {
    const parser = new BoundedDelimiterParser({ bufferBytesMax: LIMITS.frameBytesMax });
    this.port = port;
    this.parser = parser;
    parser.on('data', (frame: Buffer) => {
      this.stats.framesIn++;
      this.frameHandler(frame);
    });
    port.pipe(parser);
    // After the pipe's listener, so the parser has seen the chunk and counted what it dropped.
    port.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length;
      this.stats.overlongFramesDropped = this.overlongFramesBefore + parser.overlongFramesDropped;
    });
    // serialport closes the port on any read or write error that is not a cancel: 'close' comes
    // with a DisconnectedError. A failed write also destroys the stream, which says 'error' and a
    // bare 'close', possibly first; the error then names the cause.
    let lastError: Error | null = null;
    port.on('error', (error: Error) => {
      lastError = error;
      if (!port.isOpen && !port.opening) this.onPortClosed(port, error);
    });
    port.on('close', (error: unknown) => this.onPortClosed(port, error ?? lastError));
    this.startProbe(port);
  }

  private startProbe(port: BoundedWriteSerialPort): void {
    clearInterval(this.probeTimer);
    let probing = false;
    this.probeTimer = setInterval(() => {
      if (probing || this.port !== port || !port.isOpen) return;
      probing = true;
      port.get((error) => {
        probing = false;
        if (error !== null && this.port === port && isHangUpError(error)) this.onPortClosed(port, error);
      });
    }, LIVENESS_PROBE_PERIOD_MS);
    // The port keeps the process alive while it is open; the probe alone need not.
    this.probeTimer.unref();
  }

  /** Forgets the current port; its listeners ignore it from now on. */
  private detach(): void {
    const port = this.port;
    const parser = this.parser;
    this.port = null;
    this.parser = null;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    if (port !== null && parser !== null) {
      port.unpipe(parser);
      this.overlongFramesBefore += parser.overlongFramesDropped;
      this.stats.overlongFramesDropped = this.overlongFramesBefore;
      // A partial frame from before the loss must not be joined to bytes after it.
      parser.destroy();
    }
  }

  private onPortClosed(port: BoundedWriteSerialPort, error: unknown): void {
    if (this.port !== port) return;
    this.detach();
    // Closes the file descriptor if the probe found it dead, then lets queued writes (which wait
    // for an 'open' that never comes to this object) go.
    this.releasing = closePort(port);
    if (this.closeRequested) return;
    const detail = error instanceof Error ? (osCodeOf(error) ?? oneLine(error.message)) : 'closed under us';
    this.markDown(`${this.path} disconnected: the port went away (${detail}); re-opening it in the background`);
    this.scheduleReopen();
  }

  private markDown(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.downReason = reason;
    this.downHandler(reason);
  }

  private scheduleReopen(): void {
    if (this.closeRequested) return;
    const delayMs = this.reopenDelayMs;
    this.reopenDelayMs = Math.min(delayMs * 2, this.backoff.maxDelayMs);
    // Not unref'd: a program waiting for its board to come back must not exit meanwhile.
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      this.reopening = this.reopenOnce();
    }, delayMs);
  }

  private async reopenOnce(): Promise<void> {
    this.reopenAttemptCount++;
    let port: BoundedWriteSerialPort;
    try {
      port = await openPort(this.name, this.path, this.baudRate, this.binding);
    } catch (error) {
      this.reopening = null;
      this.lastReopenFailure = error instanceof Error ? oneLine(error.message) : String(error);
      this.scheduleReopen();
      return;
    }
    this.reopening = null;
    if (this.closeRequested) {
      await closePort(port);
      return;
    }
    this.attach(port);
    this.reopenDelayMs = this.backoff.initialDelayMs;
    this.reconnectCount++;
    this.lastReopenFailure = null;
    this.down = false;
    this.downReason = null;
    this.upHandler();
  }
}

/** Opens a port; rejects with a SerialOpenError. */
function openPort(name: string, path: string, baudRate: number, binding: SerialBinding): Promise<BoundedWriteSerialPort> {
  return new Promise((resolve, reject) => {
    let port: BoundedWriteSerialPort;
    try {
      port = new BoundedWriteSerialPort(path, baudRate, binding);
    } catch (error) {
      reject(openError(name, path, error));
      return;
    }
    port.open((error) => (error === null ? resolve(port) : reject(openError(name, path, error))));
  });
}

/** Closes a port we own; resolves once its file descriptor is closed (or it was already). */
function closePort(port: BoundedWriteSerialPort): Promise<void> {
  return new Promise<void>((resolve) => {
    port.on('error', () => {});
    if (port.isOpen) port.close(() => resolve());
    else if (port.closing) port.once('close', () => resolve());
    else resolve();
  }).then(() => {
    port.destroy();
  });
}

/** Sets DTR (RTS stays asserted, serialport's default); null on success, else the error. */
function setModemLines(port: SerialPort, lines: { dtr: boolean }): Promise<Error | null> {
  return new Promise((resolve) => {
    if (!port.isOpen) {
      resolve(new Error('port not open'));
      return;
    }
    port.set(lines, (error) => resolve(error));
  });
}

/**
 * True for the errors of a tty that was hung up (device gone): EIO, ENXIO, ENODEV, EBADF. A live
 * pty says ENOTTY to a modem-line request; that and anything else are not a hang-up.
 */
function isHangUpError(error: Error): boolean {
  const code = osCodeOf(error);
  return code === 'EIO' || code === 'ENXIO' || code === 'ENODEV' || code === 'EBADF';
}

/** One line: newlines and runs of white space become single spaces. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * glibc's strerror() texts (which @serialport/bindings-cpp puts in its messages, without a code)
 * for the errors an open can meet. Longest first: "no such device" is a prefix of another.
 */
const STRERROR_CODES: readonly (readonly [string, string])[] = [
  ['no such device or address', 'ENXIO'],
  ['no such file or directory', 'ENOENT'],
  ['inappropriate ioctl for device', 'ENOTTY'],
  ['resource temporarily unavailable', 'EAGAIN'],
  ['device or resource busy', 'EBUSY'],
  ['operation not permitted', 'EPERM'],
  ['too many open files', 'EMFILE'],
  ['read-only file system', 'EROFS'],
  ['permission denied', 'EACCES'],
  ['input/output error', 'EIO'],
  ['invalid argument', 'EINVAL'],
  ['bad file descriptor', 'EBADF'],
  ['not a directory', 'ENOTDIR'],
  ['is a directory', 'EISDIR'],
  ['no such device', 'ENODEV'],
];

/** The OS code of an open error: its `code`, else recognised in its text. */
function osCodeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  const text = (error instanceof Error ? error.message : String(error)).toLowerCase();
  for (const [words, code] of STRERROR_CODES) if (text.includes(words)) return code;
  // libuv's wording, for bindings that report it.
  for (const [name, message] of getSystemErrorMap().values()) if (text.includes(message.toLowerCase())) return name;
  return undefined;
}

const PROBLEM_OF_CODE: Readonly<Record<string, SerialOpenProblem>> = {
  ENOENT: 'noSuchPort',
  ENOTDIR: 'noSuchPort',
  ENXIO: 'noSuchPort',
  ENODEV: 'noSuchPort',
  EACCES: 'permissionDenied',
  EPERM: 'permissionDenied',
  EBUSY: 'busy',
  EAGAIN: 'busy',
  ENOTTY: 'notSerialPort',
  EISDIR: 'notSerialPort',
};

function openError(name: string, path: string, error: unknown): SerialOpenError {
  const text = oneLine(error instanceof Error ? error.message : String(error));
  const code = osCodeOf(error);
  // bindings-cpp: "Error Resource temporarily unavailable Cannot lock port" (flock said no).
  const problem: SerialOpenProblem = /cannot lock port/i.test(text) ? 'busy' : ((code !== undefined ? PROBLEM_OF_CODE[code] : undefined) ?? 'other');
  const words: Record<SerialOpenProblem, string> = {
    noSuchPort: code === 'ENXIO' || code === 'ENODEV' ? 'no such port (no device answers at that path)' : 'no such port',
    permissionDenied: "permission denied (on Linux, add the user to the port's group, usually dialout)",
    busy: 'port busy: another program has it open and locked',
    notSerialPort: 'not a serial port',
    other: `failed: ${text.replace(/^Error:?\s*/i, '').replace(/^Error:?\s*/i, '')}`,
  };
  return new SerialOpenError(`${name}: cannot open ${path}: ${words[problem]}${code !== undefined ? ` (${code})` : ''}`, path, problem, code);
}
