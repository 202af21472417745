/**
 * A Transport over a child process's stdin/stdout pipes. The host owns the child: it is started
 * here, signalled by PID (SIGSTOP/SIGCONT for hang faults, SIGKILL to isolate) and always reaped
 * by close(). The child's stderr is kept as a bounded tail for error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { getPriority } from 'node:os';
import { FrameSplitter } from '../protocol/bounded-delimiter-parser.js';
import { LIMITS } from '../protocol/messages.js';
import { createTransportStats, QUEUED_BYTES_MAX, LinkEvents, type DownHandler, type FrameHandler, type Transport } from './transport.js';

export const STDERR_TAIL_BYTES_MAX = 2048;
const KILL_GRACE_MS = 1000;
/**
 * After a pipe error, how long to wait for the process's exit before calling the link down for
 * the pipe alone. A write can hit the dead pipe a few milliseconds before Node reaps the child;
 * waiting lets the down reason name the signal or exit code, which is what a user needs.
 */
const PIPE_ERROR_GRACE_MS = 50;

export interface ChildProcessTransportOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** Prefix for messages, e.g. "replica 1". */
  readonly name: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Nice value to start the process at, through nice(1) (a process we start inherits ours; a
   * replica that restarts mid-run must not compete with the loop while it boots).
   */
  readonly nice?: number;
}

export class ChildProcessTransport implements Transport {
  readonly stats = createTransportStats();
  /**
   * Pipes deliver chunks to one consumer, synchronously: the splitter (the same rule the
   * DelimiterParser subclass uses for serial ports) without a Transform stream per chunk, which
   * cost more per tick than decoding the frame.
   */
  private readonly splitter = new FrameSplitter(LIMITS.frameBytesMax);
  private readonly deliver = (frame: Uint8Array): void => {
    this.stats.framesIn++;
    this.events.frame(frame);
  };
  private readonly events = new LinkEvents();
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private pipeErrorTimer: NodeJS.Timeout | undefined;
  /** The last STDERR_TAIL_BYTES_MAX bytes of stderr, kept as bytes: a character may span chunks. */
  private stderrTail: Buffer = Buffer.alloc(0);

  private constructor(
    readonly child: ChildProcess,
    private readonly name: string,
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        clearTimeout(this.pipeErrorTimer);
        this.markDown(signal !== null ? `process killed by ${signal}` : `process exited with code ${code}`);
        resolve();
      });
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length;
      this.splitter.push(chunk, this.deliver);
      this.stats.overlongFramesDropped = this.splitter.overlongFramesDropped;
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = keepTail(this.stderrTail, chunk, STDERR_TAIL_BYTES_MAX);
    });
    // EPIPE after the child died is reported through 'exit'; never let it throw.
    child.stdin!.on('error', () => this.onPipeError('to'));
    child.stdout!.on('error', () => this.onPipeError('from'));
  }

  /** Starts the process; resolves once it is running, rejects with a one-line message if it cannot start. */
  static start(options: ChildProcessTransportOptions): Promise<ChildProcessTransport> {
    return new Promise((resolve, reject) => {
      // nice(1) sets the priority before exec, so every thread the process ever has gets it:
      // os.setPriority(pid) after spawn reaches only the main thread, and threads Node starts
      // before it (V8's compiler and GC helpers) keep ours.
      const lowered = options.nice !== undefined;
      const command = lowered ? 'nice' : options.command;
      const args = lowered ? ['-n', String((options.nice as number) - getPriority()), options.command, ...options.args] : [...options.args];
      const child = spawn(command, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: options.env ?? process.env,
      });
      child.once('error', (error: NodeJS.ErrnoException) => reject(new Error(`${options.name}: cannot start ${options.command}: ${error.code ?? error.message}`)));
      child.once('spawn', () => resolve(new ChildProcessTransport(child, options.name)));
    });
  }

  get description(): string {
    return `${this.name} (pid ${this.child.pid ?? '?'})`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isUp(): boolean {
    return !this.events.isDown;
  }

  /** Bytes held waiting for a delimiter (never more than LIMITS.frameBytesMax). */
  get bufferedBytes(): number {
    return this.splitter.bufferedBytes;
  }

  /** The last lines the process wrote to stderr (at most STDERR_TAIL_BYTES_MAX bytes of UTF-8). */
  get stderr(): string {
    const tail = this.stderrTail;
    // A cut inside a multi-byte character leaves up to three continuation bytes (top bits 10) first.
    let start = 0;
    while (start < 3 && start < tail.length && ((tail[start] as number) & 0xc0) === 0x80) start++;
    return tail.toString('utf8', start);
  }

  onFrame(handler: FrameHandler): void {
    this.events.onFrame(handler);
  }

  onDown(handler: DownHandler): void {
    this.events.onDown(handler);
  }

  send(frame: Uint8Array): boolean {
    const stdin = this.child.stdin!;
    if (this.events.isDown || stdin.destroyed || stdin.writableLength > QUEUED_BYTES_MAX) {
      this.stats.sendsDropped++;
      return false;
    }
    stdin.write(frame);
    this.stats.bytesOut += frame.length;
    this.stats.framesOut++;
    return true;
  }

  /** Sends a signal to the process by PID; false if it is gone. */
  signal(signal: NodeJS.Signals): boolean {
    if (this.exited || this.child.pid === undefined) return false;
    try {
      process.kill(this.child.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.pipeErrorTimer);
    this.markDown('closed by the host');
    if (!this.exited) {
      this.child.stdin!.end();
      this.signal('SIGCONT');
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.signal('SIGKILL'), KILL_GRACE_MS);
      await this.exitPromise;
      clearTimeout(timer);
    }
    this.child.stdout!.destroy();
    this.child.stderr!.destroy();
  }

  private onPipeError(direction: 'to' | 'from'): void {
    if (this.events.isDown || this.exited || this.pipeErrorTimer !== undefined) return;
    this.pipeErrorTimer = setTimeout(() => this.markDown(`pipe ${direction} the process broke`), PIPE_ERROR_GRACE_MS);
  }

  private markDown(reason: string): void {
    this.events.markDown(reason);
  }
}

/** The last `bytesMax` bytes of tail ++ chunk, copied so that no whole pipe chunk stays alive. */
function keepTail(tail: Buffer, chunk: Buffer, bytesMax: number): Buffer {
  if (chunk.length >= bytesMax) return Buffer.from(chunk.subarray(chunk.length - bytesMax));
  const keptFromTail = Math.min(tail.length, bytesMax - chunk.length);
  return Buffer.concat([tail.subarray(tail.length - keptFromTail), chunk]);
}
