/**
 * Kinds of replica the runtime can start: a Node process on pipes, a board on a serial port, and
 * whatever a provider adds (firmware-sim/ adds simulated boards on pseudo-terminals; src/ never
 * imports it: it registers itself with the CLI, src/cli/extensions.ts). Each started replica is a
 * Transport plus what the host may do to the thing behind it.
 */
import { ChildProcessTransport } from '../transport/child-process-transport.js';
import { SerialTransport } from '../transport/serial-transport.js';
import { endpointText, TcpTransport } from '../transport/tcp-transport.js';
import { readKeyFile } from '../transport/key-file.js';
import type { Transport } from '../transport/transport.js';
import type { LoadedLaw } from '../law/law-runtime.js';
import { nodeReplicaCommand } from './replica-command.js';

/** A Node replica process on pipes; `args` go to src/replica/replica-main.ts as given. */
export interface NodeReplicaSpec {
  readonly kind: 'node';
  readonly args?: readonly string[];
}

/** A board on a serial port. */
export interface SerialReplicaSpec {
  readonly kind: 'serial';
  readonly path: string;
  readonly baudRate: number;
}

/** A replica served over authenticated TCP (`tmr replica --listen`), on this host or another. */
export interface TcpReplicaSpec {
  readonly kind: 'tcp';
  readonly host: string;
  readonly port: number;
  /** The pre-shared key's file (--key-file, or the replica's own keyFile in a config file). */
  readonly keyFile: string;
}

/** A replica endpoint in simulated time on a seeded in-memory link (src/sim/full-stack.ts). */
export interface SimProcessReplicaSpec {
  readonly kind: 'sim-process';
}

/** The kinds src/ itself starts. */
export type BuiltInReplicaSpec = NodeReplicaSpec | SerialReplicaSpec | TcpReplicaSpec | SimProcessReplicaSpec;

/**
 * A kind a provider from outside src/ adds (firmware-sim/'s sim-board and avr-sim, a user's own):
 * its settings are the provider's business, typed where it is defined; the provider narrows.
 */
export interface ExtensionReplicaSpec {
  readonly kind: string;
  readonly [setting: string]: unknown;
}

export type ReplicaSpec = BuiltInReplicaSpec | ExtensionReplicaSpec;

export interface StartedReplica {
  readonly transport: Transport;
  /**
   * What the replica is, for messages and summaries: its port for a board (`/dev/ttyACM0`), `pid N`
   * for a process, the kind and process of a simulated board or an emulator. Absent: `pid N` if
   * there is a process, else the transport's description (see replicaName).
   */
  readonly name?: string;
  /** Process that can be signalled (SIGSTOP for a hang, SIGKILL to isolate), if any. */
  readonly pid: number | undefined;
  /** Every process of ours on this replica's data path (replica, socat, noise proxy): scheduled as control work. */
  readonly dataPathPids: readonly number[];
  signal(signal: NodeJS.Signals): boolean;
  /** Out of the vote: a process is killed; a board is left alone (it may be reset and re-admitted). */
  isolate(): void;
  /** Called when a link that went down comes back (serial ports re-open). */
  onLinkUp(handler: () => void): void;
  /** Stops and releases everything started for this replica. */
  stop(): Promise<void>;
  /**
   * Brings the replica back after it was taken out: a process is killed if still alive and
   * started again (a new transport), a board is reset (by DTR, by the emulator's reset line) or,
   * where nothing can reset it, simply waited for (the same transport). Resolves with what to
   * talk to now. Absent: this replica cannot be restarted.
   */
  restart?(): Promise<StartedReplica>;
  /**
   * Starts a standby for this replica (a process of the same kind and arguments, at RESTART_NICE)
   * that a restart can take over at once. Absent for boards: a board is not duplicated.
   */
  spawnSpare?(): Promise<StartedReplica>;
  /**
   * Warm-up ticks before the run (default: the runner's, sized for a JIT-compiled replica). A
   * board running compiled firmware has nothing to warm up, and its link is the slow part.
   */
  readonly warmUpTicks?: number;
  /** Warm-up ticks after a restart, before the state transfer (default: the runner's). */
  readonly restartWarmUpTicks?: number;
}

export interface ReplicaProvider {
  /** The spec kind it starts (ReplicaSpec['kind']). */
  readonly kind: string;
  /** Starts replica `replicaIndex` running `law` (a process is told which; a board must have been built with it). */
  start(spec: ReplicaSpec, replicaIndex: number, law: LoadedLaw): Promise<StartedReplica>;
}

/**
 * Nice value of a replica process restarted mid-run, while it boots and warms up: below the
 * loop's, so on a small host it does not take a core from the replicas in service (measured: at
 * the inherited priority, a booting replica made a survivor miss its deadline). The runner raises
 * it to the control priority when the replica joins the loop on probation.
 */
export const RESTART_NICE = 10;

/** Ticks a standby runs through its own message path before it answers (replica-main --self-warm-up-ticks). */
export const SPARE_SELF_WARM_UP_TICKS = 10_000;

function processReplica(transport: ChildProcessTransport, startAgain: (nice?: number, extraArgs?: readonly string[]) => Promise<ChildProcessTransport>): StartedReplica {
  return {
    transport,
    name: `pid ${transport.pid ?? '?'}`,
    pid: transport.pid,
    dataPathPids: transport.pid === undefined ? [] : [transport.pid],
    signal: (signal) => transport.signal(signal),
    isolate: () => transport.signal('SIGKILL'),
    onLinkUp: () => {},
    stop: () => transport.close(),
    async restart() {
      transport.signal('SIGKILL');
      await transport.close();
      return processReplica(await startAgain(RESTART_NICE), startAgain);
    },
    // startAgain spawns synchronously, before its first await: the fork happens when this is called.
    // A standby warms itself up (no host time, no pipe traffic): the host only shakes hands with it.
    spawnSpare: async () => ({
      ...processReplica(await startAgain(RESTART_NICE, [`--self-warm-up-ticks=${SPARE_SELF_WARM_UP_TICKS}`]), startAgain),
      restartWarmUpTicks: 0,
    }),
  };
}

export const nodeProvider: ReplicaProvider = {
  kind: 'node',
  async start(spec, replicaIndex, law) {
    // Compiled JavaScript whenever it is built: a restart must not wait for a TypeScript loader.
    const command = nodeReplicaCommand();
    const extra = [`--law=${law.source}`, ...(spec.kind === 'node' ? ((spec as NodeReplicaSpec).args ?? []) : [])];
    const startAgain = (nice?: number, extraArgs: readonly string[] = []): Promise<ChildProcessTransport> =>
      ChildProcessTransport.start({
        command: command.command,
        args: [...command.args, ...extra, ...extraArgs],
        name: `replica ${replicaIndex}`,
        ...(nice === undefined ? {} : { nice }),
      });
    return processReplica(await startAgain(), startAgain);
  },
};

/** A board on a serial port: the host can only talk to it (and pulse DTR). Named by its port unless `name` says more. */
export function serialReplica(
  transport: SerialTransport,
  extraStop: () => Promise<void> = async () => {},
  pid?: number,
  signal?: (s: NodeJS.Signals) => boolean,
  dataPathPids: readonly number[] = [],
  name: string = transport.path,
): StartedReplica {
  const replica: StartedReplica = {
    transport,
    name,
    pid,
    dataPathPids,
    signal: signal ?? (() => false),
    isolate: () => {},
    onLinkUp: (handler) => transport.onUp(handler),
    stop: async () => {
      await transport.close();
      await extraStop();
    },
    // DTR where the port has it (an Arduino resets on its falling edge); otherwise the board is
    // waited for: the handshake that follows retries until it answers or times out.
    async restart() {
      await transport.resetBoard();
      return replica;
    },
  };
  return replica;
}

export const serialProvider: ReplicaProvider = {
  kind: 'serial',
  async start(spec, replicaIndex) {
    if (spec.kind !== 'serial') throw new Error(`serial provider given a ${spec.kind} replica`);
    const { path, baudRate } = spec as SerialReplicaSpec;
    return serialReplica(await SerialTransport.open({ path, baudRate, name: `replica ${replicaIndex}` }));
  },
};

/**
 * Connecting and shaking hands with a TCP replica may take this long: it may still be starting
 * (refused connections are retried), and a link across a network takes a few round trips.
 */
export const TCP_CONNECT_TIMEOUT_MS = 10_000;
/**
 * Warm-up ticks over TCP: the replica server warmed its own JIT before it listened, so the voter's
 * warm-up is for its own code path and the link (each window of frames is a network round trip).
 */
export const TCP_WARM_UP_TICKS = 2_000;
/** After a restart (a new session with a server that never stopped), a short warm-up suffices. */
export const TCP_RESTART_WARM_UP_TICKS = 50;

function tcpReplica(transport: TcpTransport, where: string, connect: () => Promise<TcpTransport>): StartedReplica {
  return {
    transport,
    name: `tcp:${where}`,
    pid: undefined,
    dataPathPids: [],
    signal: () => false,
    // The process is on its own host: out of the vote, it is left alone, as a board is.
    isolate: () => {},
    onLinkUp: () => {},
    stop: () => transport.close(),
    // A new session: the replica server never stopped (a crash fault rebooted it in place), and a
    // hello resets its law before the state transfer, as for a board.
    async restart() {
      await transport.close();
      return tcpReplica(await connect(), where, connect);
    },
    warmUpTicks: TCP_WARM_UP_TICKS,
    restartWarmUpTicks: TCP_RESTART_WARM_UP_TICKS,
  };
}

export const tcpProvider: ReplicaProvider = {
  kind: 'tcp',
  async start(spec, replicaIndex) {
    if (spec.kind !== 'tcp') throw new Error(`tcp provider given a ${spec.kind} replica`);
    const { host, port, keyFile } = spec as TcpReplicaSpec;
    const { key } = readKeyFile(keyFile, 'key file');
    const connect = (): Promise<TcpTransport> => TcpTransport.connect({ host, port, key, name: `replica ${replicaIndex}`, timeoutMs: TCP_CONNECT_TIMEOUT_MS });
    return tcpReplica(await connect(), endpointText(host, port), connect);
  },
};

export const BUILT_IN_PROVIDERS: readonly ReplicaProvider[] = [nodeProvider, serialProvider, tcpProvider];
