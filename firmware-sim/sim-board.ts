/**
 * Launches simulated boards, each on its own socat pseudo-terminal pair, and owns everything it
 * starts: the board process and socat, both stopped by PID. The host opens `hostPath` with
 * serialport exactly as it would open a real board's /dev/ttyACM0.
 */
import { OwnedProcess, programCommand } from './owned-process.js';
import { PtyPair } from './pty-pair.js';

/** What a sim-board replica can be asked to be (the settings of `--replica sim-board:…`, firmware-sim/extension.ts). */
export type SimBoardBehaviour = {
  /** Print boot-time noise on the line before the first frame, as real boards do. */
  readonly bootNoise?: boolean;
  /** Report this law self-test hash (a board built with another law). */
  readonly lawHash?: number;
  /** Speak this protocol version (a board built for another version). */
  readonly protocolVersion?: number;
  /** Put a line-noise proxy between the host and the board with this bit-error rate. */
  readonly bitErrorRate?: number;
  /** Which way the noise goes (default both). */
  readonly noiseDirection?: 'both' | 'to-host' | 'to-board';
  /** A broken board that writes without pause (see firmware-sim/sim-board-main). */
  readonly flood?: 'garbage' | 'max-frames';
  /** Start the flood this long after the board starts. */
  readonly floodAfterMs?: number;
};

export interface SimBoardOptions extends SimBoardBehaviour {
  readonly name?: string;
  /** The law it runs: a shipped name or a module path (LoadedLaw.source); default pid-q16. */
  readonly law?: string;
  readonly baudRate?: number;
  /** Directory for the pty links; a fresh temporary one by default. */
  readonly directory?: string;
  /** Seed of the line noise (default 1). */
  readonly noiseSeed?: number;
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
      if (options.law !== undefined) args.push('--law', options.law);
      if (options.lawHash !== undefined) args.push('--law-hash', String(options.lawHash >>> 0));
      if (options.protocolVersion !== undefined) args.push('--protocol-version', String(options.protocolVersion));
      if (options.flood !== undefined) args.push('--flood', options.flood, '--flood-after-ms', String(options.floodAfterMs ?? 0));
      board = await OwnedProcess.start(name, programCommand('sim-board-main', args), 'ready ');
      if (options.bitErrorRate !== undefined) {
        const linePair = await PtyPair.open({ name: `${name}-line`, ...directory });
        const proxyArgs = ['--host', linePair.boardPath, '--board', pair.hostPath, '--ber', String(options.bitErrorRate)];
        proxyArgs.push('--seed', String(options.noiseSeed ?? 1), '--direction', options.noiseDirection ?? 'both');
        line = { pair: linePair, proxy: await OwnedProcess.start(`${name} line-noise proxy`, programCommand('line-noise-proxy-main', proxyArgs), 'ready') };
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
