/**
 * Launches simulated boards, each on its own socat pseudo-terminal pair, and owns everything it
 * starts: the board process and socat, both stopped by PID. The host opens `hostPath` with
 * serialport exactly as it would open a real board's /dev/ttyACM0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReplicaSpec } from '../src/runtime/replica-kinds.js';
import { PtyPair } from './pty-pair.js';

/** What a sim-board replica can be asked to be (the fields of `--replica sim-board:…`). */
type SimBoardBehaviour = Omit<Extract<ReplicaSpec, { kind: 'sim-board' }>, 'kind'>;

export interface SimBoardOptions extends SimBoardBehaviour {
  readonly name?: string;
  readonly baudRate?: number;
  /** Directory for the pty links; a fresh temporary one by default. */
  readonly directory?: string;
  /** Seed of the line noise (default 1). */
  readonly noiseSeed?: number;
}

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 1_000;

/** A firmware-sim program: compiled JavaScript when we are compiled, tsx when run from source. */
function programCommand(stem: string): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return { command: process.execPath, args: ['--import', import.meta.resolve('tsx'), join(dirname(here), `${stem}.ts`)] };
  return { command: process.execPath, args: [join(dirname(here), `${stem}.js`)] };
}

/** A child program we own: started, waited for until it prints its ready marker, stopped by PID. */
class OwnedProcess {
  private readonly exited: Promise<void>;
  private stderrTail = '';

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr!.on('data', (c: Buffer) => (this.stderrTail = (this.stderrTail + c.toString()).slice(-2048)));
  }

  static async start(label: string, stem: string, args: readonly string[], readyMarker: string): Promise<OwnedProcess> {
    const program = programCommand(stem);
    const owned = new OwnedProcess(label, spawn(program.command, [...program.args, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
    try {
      await owned.waitFor(readyMarker);
    } catch (error) {
      await owned.stop();
      throw error;
    }
    return owned;
  }

  private waitFor(marker: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`${this.label}: not ready within ${READY_TIMEOUT_MS} ms: ${this.stderrTail.trim()}`)), READY_TIMEOUT_MS);
      this.child.stdout!.on('data', (c: Buffer) => {
        stdout = (stdout + c.toString()).slice(-4096);
        if (stdout.includes(marker)) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.label}: exited (${signal ?? code}) before it was ready: ${this.stderrTail.trim()}`));
      });
    });
  }

  get stderr(): string {
    return this.stderrTail;
  }

  signal(signal: NodeJS.Signals): boolean {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return false;
    try {
      process.kill(this.child.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end();
      this.signal('SIGCONT');
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.signal('SIGKILL'), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

export class SimBoard {
  private constructor(
    readonly name: string,
    /** The pair the board sits on; the host's end of it unless a noise proxy is in between. */
    readonly pair: PtyPair,
    private readonly board: OwnedProcess,
    /** With line noise: the host's pair and the proxy joining it to the board's pair. */
    private readonly line: { pair: PtyPair; proxy: OwnedProcess } | null,
  ) {}

  static async start(options: SimBoardOptions = {}): Promise<SimBoard> {
    const name = options.name ?? 'sim-board';
    const directory = options.directory === undefined ? {} : { directory: options.directory };
    const pair = await PtyPair.open({ name, ...directory });
    let board: OwnedProcess | null = null;
    let line: { pair: PtyPair; proxy: OwnedProcess } | null = null;
    try {
      const args = ['--port', pair.boardPath, '--name', name, '--baud', String(options.baudRate ?? 115_200)];
      if (options.bootNoise) args.push('--boot-noise');
      if (options.lawHash !== undefined) args.push('--law-hash', String(options.lawHash >>> 0));
      if (options.protocolVersion !== undefined) args.push('--protocol-version', String(options.protocolVersion));
      if (options.flood !== undefined) args.push('--flood', options.flood, '--flood-after-ms', String(options.floodAfterMs ?? 0));
      board = await OwnedProcess.start(name, 'sim-board-main', args, 'ready ');
      if (options.bitErrorRate !== undefined) {
        const linePair = await PtyPair.open({ name: `${name}-line`, ...directory });
        const proxyArgs = ['--host', linePair.boardPath, '--board', pair.hostPath, '--ber', String(options.bitErrorRate)];
        proxyArgs.push('--seed', String(options.noiseSeed ?? 1), '--direction', options.noiseDirection ?? 'both');
        line = { pair: linePair, proxy: await OwnedProcess.start(`${name} line-noise proxy`, 'line-noise-proxy-main', proxyArgs, 'ready') };
      }
      return new SimBoard(name, pair, board, line);
    } catch (error) {
      await board?.stop();
      await pair.stop();
      throw error;
    }
  }

  /** Where the host opens the board, as it would open /dev/ttyACM0. */
  get hostPath(): string {
    return (this.line?.pair ?? this.pair).hostPath;
  }

  get pid(): number | undefined {
    return this.board.child.pid;
  }

  get stderr(): string {
    return this.board.stderr;
  }

  /** The board, socat and (with noise) the proxy: every process bytes pass through. */
  get dataPathPids(): number[] {
    const pids = [this.board.child.pid, this.pair.pid, this.line?.pair.pid, this.line?.proxy.child.pid];
    return pids.filter((pid): pid is number => pid !== undefined);
  }

  /** Signals the board process by PID (SIGSTOP freezes it as a hung MCU would be). */
  signal(signal: NodeJS.Signals): boolean {
    return this.board.signal(signal);
  }

  /** Pulls the cable: the host's tty vanishes; the board keeps trying to reattach. */
  unplug(): Promise<void> {
    if (this.line !== null) throw new Error(`${this.name}: unplugging a board behind a noise proxy is not supported`);
    return this.pair.unplug();
  }

  plugIn(): Promise<void> {
    return this.pair.plugIn();
  }

  async stop(): Promise<void> {
    if (this.line !== null) {
      await this.line.proxy.stop();
      await this.line.pair.stop();
    }
    await this.board.stop();
    await this.pair.stop();
  }
}

/** Starts `count` boards, each on its own pty pair; stops the ones started if any fails. */
export async function launchSimBoards(count: number, options: SimBoardOptions = {}): Promise<SimBoard[]> {
  const boards: SimBoard[] = [];
  try {
    for (let i = 0; i < count; i++) boards.push(await SimBoard.start({ ...options, name: `${options.name ?? 'sim-board'}-${i}` }));
    return boards;
  } catch (error) {
    await Promise.all(boards.map((b) => b.stop()));
    throw error;
  }
}
