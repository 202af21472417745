/**
 * One voter of a redundant set (issue 19), `tmr voter`: hot, whether primary or standby. It
 *
 *  - holds a key in etcd (election.ts): its creation revision is the voter's epoch, the oldest
 *    key leads; etcd says who may be primary and when a former primary may return;
 *  - takes the loop's ticks from the actuator (actuator-server.ts) and forwards every one to every
 *    replica (replica-server.ts steps each tick once, whichever voter sent it first, and answers
 *    the others the same: no replica is reset or stepped twice when voters come and go);
 *  - votes on the replies with the pure core, as a voter alone does, and sends the command to the
 *    actuator tagged (epoch, tick, primary or standby). The actuator applies the primary's and
 *    falls back on a standby's after a few silent ticks;
 *  - fences itself: it commands as primary only while etcd says it leads and within its own
 *    deadline (the send time of its last acknowledged keepalive plus the TTL, less a margin), and
 *    as a standby only while its key can still be alive. A voter whose key lapsed (a stop, a
 *    partition from etcd) or whom the actuator refuses as stale steps down: it leaves its key and
 *    joins again, with a new, newer epoch, as a standby.
 *
 * What it does not do (yet): restart or re-synchronise replicas (a voter alone does; here a
 * replica that fails stays out of the vote), or join a set whose replicas lost ticks.
 */
import { performance } from 'node:perf_hooks';
import { createCoreState, createObservations, resetObservations, step, type CoreState, type Observations } from '../core/tmr-core.js';
import { helloFor, type LoadedLaw } from '../law/law-runtime.js';
import { coreConfigFor } from '../loop/loop-model.js';
import { decodeMessage, encodeMessage } from '../protocol/codec.js';
import type { PreSharedKey } from '../transport/key-file.js';
import { checkHelloAck } from '../runtime/replica-link.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import { decodeActuatorMessage, encodeActuatorMessage } from './actuator-protocol.js';
import { ElectionError, VoterElection } from './election.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface RedundantVoterOptions {
  /** Names this voter in etcd and in logs. */
  readonly voterId: string;
  readonly actuator: Endpoint;
  readonly replicas: readonly Endpoint[];
  readonly key: PreSharedKey;
  readonly law: LoadedLaw;
  readonly rateHz: number;
  readonly etcd: { readonly endpoints: readonly string[]; readonly set: string; readonly ttlS: number; readonly fenceMarginMs: number };
  /** Part of a tick period the voter waits for replies (0..1). */
  readonly deadlineFraction: number;
  /** Test hook: false sends commands whatever the voter's own deadline says, so that the actuator alone must refuse them. */
  readonly selfFence: boolean;
  /** One line per event (stderr in the CLI). */
  readonly log: (line: string) => void;
  /** Lines a supervisor reads (stdout in the CLI): `epoch N`, `stepped down …`. */
  readonly announce: (line: string) => void;
}

export interface RedundantVoterStats {
  ticksHeard: number;
  votes: number;
  commandsAsPrimary: number;
  commandsAsStandby: number;
  /** Commands the actuator refused, and told us. */
  refusedStale: number;
  refusedNotNewer: number;
  /** Votes closed without a command: fenced, no key, or superseded by a newer tick. */
  fenced: number;
  superseded: number;
  /** Votes without a majority: nothing sent. */
  noMajority: number;
  /** Replies for a tick no longer being voted, and errors replicas sent (a stale tick: TICK_GAP). */
  lateReplies: number;
  errorReplies: number;
  stepDowns: number;
  /** Replicas put on probation after a timing exclusion (#readmitLate). */
  probations: number;
  /** Times the voter had lost every replica and took a majority that agreed back (#rejoinSet). */
  setRejoins: number;
  epochs: number[];
}

const CONNECT_TIMEOUT_MS = 10_000;
const RECONNECT_MS = 300;
const REJOIN_RETRY_MS = 500;
const LEASE_CHECK_MS = 20;
/** How long a stepping-down voter waits for etcd to revoke its key before joining again anyway. */
const RESIGN_WAIT_MS = 500;

interface ReplicaSession {
  readonly index: number;
  readonly endpoint: Endpoint;
  transport: TcpTransport | null;
  configured: boolean;
}

export class RedundantVoter {
  readonly stats: RedundantVoterStats = { ticksHeard: 0, votes: 0, commandsAsPrimary: 0, commandsAsStandby: 0, refusedStale: 0, refusedNotNewer: 0, fenced: 0, superseded: 0, noMajority: 0, lateReplies: 0, errorReplies: 0, stepDowns: 0, probations: 0, setRejoins: 0, epochs: [] };
  #election: VoterElection | null = null;
  #actuator: TcpTransport | null = null;
  readonly #replicas: ReplicaSession[];
  readonly #core: CoreState;
  readonly #obs: Observations;
  readonly #periodMs: number;
  /** The tick being voted (-1: none), its deadline timer, and the replies still awaited. */
  #open = -1;
  #openTimer: NodeJS.Timeout | null = null;
  #awaited = 0;
  #lastCoreTick = -1;
  /** The newest tick heard in the frames being handled now (-1: none pending a vote). */
  #newestHeard = -1;
  #rejoining = false;
  #stopped = false;
  readonly #leaseTimer: NodeJS.Timeout;

  private constructor(private readonly options: RedundantVoterOptions) {
    const law = options.law;
    this.#replicas = options.replicas.map((endpoint, index) => ({ index, endpoint, transport: null, configured: false }));
    this.#core = createCoreState(coreConfigFor({ replicaCount: options.replicas.length, deadlineMissLimit: 3, errorDensityLimit: 3, quorumLossTicksMax: 2, simplexPolicy: 'safe', law, rateHz: options.rateHz, commonModeLimitMs: 2_000 }));
    this.#obs = createObservations(options.replicas.length, law.outputCount);
    this.#periodMs = 1000 / options.rateHz;
    this.#leaseTimer = setInterval(() => this.#checkLease(), LEASE_CHECK_MS);
  }

  /** Joins the election, configures (or joins) every replica, then connects to the actuator. */
  static async start(options: RedundantVoterOptions): Promise<RedundantVoter> {
    const voter = new RedundantVoter(options);
    try {
      await voter.#join();
      await Promise.all(voter.#replicas.map((r) => voter.#connectReplica(r)));
      await voter.#connectActuator();
    } catch (error) {
      await voter.stop();
      throw error;
    }
    return voter;
  }

  get epoch(): number {
    return this.#election?.epoch ?? 0;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#leaseTimer);
    if (this.#openTimer !== null) clearTimeout(this.#openTimer);
    const closing: Promise<void>[] = [];
    if (this.#actuator !== null) closing.push(this.#actuator.close());
    for (const r of this.#replicas) if (r.transport !== null) closing.push(r.transport.close());
    await Promise.all(closing);
    const election = this.#election;
    this.#election = null;
    if (election !== null) await Promise.race([election.resign().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1_000))]);
  }

  async #join(): Promise<void> {
    const e = this.options.etcd;
    const election = await VoterElection.join({ endpoints: e.endpoints, set: e.set, voterId: this.options.voterId, ttlS: e.ttlS, fenceMarginMs: e.fenceMarginMs });
    if (this.#stopped) {
      await election.abandon();
      return;
    }
    this.#election = election;
    this.stats.epochs.push(election.epoch);
    this.options.announce(`epoch ${election.epoch}`);
    this.options.log(`joined voter set '${e.set}' with epoch ${election.epoch}${election.isLeader ? ' (leader)' : ''}`);
  }

  async #connectReplica(r: ReplicaSession): Promise<void> {
    const { host, port } = r.endpoint;
    const transport = await TcpTransport.connect({ host, port, key: this.options.key.key, name: `replica ${r.index}`, timeoutMs: CONNECT_TIMEOUT_MS, epoch: Math.max(1, this.epoch) });
    const hello = helloFor(this.options.law, r.index, this.options.law.paramsForRate(this.options.rateHz));
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`replica ${r.index} (${host}:${port}) did not answer its hello`)), CONNECT_TIMEOUT_MS);
      transport.onFrame((frame) => {
        const decoded = decodeMessage(frame);
        if (!decoded.ok) return;
        const m = decoded.message;
        if (!r.configured) {
          if (m.kind === 'helloAck') {
            clearTimeout(timer);
            const refused = checkHelloAck(m, hello);
            if (refused !== null) reject(new Error(`replica ${r.index} (${host}:${port}): ${refused.reason}: ${refused.detail}`));
            else {
              r.configured = true;
              resolve();
            }
          } else if (m.kind === 'error') {
            clearTimeout(timer);
            reject(new Error(`replica ${r.index} refused the hello: ${m.detail}`));
          }
          return;
        }
        if (m.kind === 'output' && m.tick === this.#open) this.#reply(r.index, m.outputs, m.stateDigest);
        else if (m.kind === 'output') this.stats.lateReplies++;
        else if (m.kind === 'error') {
          this.stats.errorReplies++;
          if (this.stats.errorReplies <= 3 || this.stats.errorReplies % 100 === 0) this.options.log(`replica ${r.index}: error ${m.code}: ${m.detail} (${this.stats.errorReplies} so far)`);
        }
      });
    });
    transport.onDown((reason) => {
      if (r.transport !== transport) return;
      r.transport = null;
      r.configured = false;
      if (this.#stopped) return;
      this.options.log(`replica ${r.index} link down: ${reason}; reconnecting`);
      this.#reconnect(() => this.#connectReplica(r));
    });
    r.transport = transport;
    transport.send(encodeMessage(hello));
    await acked;
  }

  async #connectActuator(): Promise<void> {
    const { host, port } = this.options.actuator;
    const transport = await TcpTransport.connect({ host, port, key: this.options.key.key, name: 'actuator', timeoutMs: CONNECT_TIMEOUT_MS, epoch: Math.max(1, this.epoch) });
    transport.onFrame((frame) => this.#onActuatorFrame(frame));
    transport.onDown((reason) => {
      if (this.#actuator !== transport) return;
      this.#actuator = null;
      if (this.#stopped) return;
      this.options.log(`actuator link down: ${reason}; reconnecting`);
      this.#reconnect(() => this.#connectActuator());
    });
    this.#actuator = transport;
  }

  #reconnect(connect: () => Promise<void>): void {
    const attempt = (): void => {
      if (this.#stopped) return;
      connect().catch((error: unknown) => {
        this.options.log(`reconnect failed: ${error instanceof Error ? error.message : String(error)}`);
        setTimeout(attempt, RECONNECT_MS);
      });
    };
    setTimeout(attempt, RECONNECT_MS);
  }

  #onActuatorFrame(frame: Uint8Array): void {
    const decoded = decodeActuatorMessage(frame);
    if (!decoded.ok) {
      this.options.log(`refused a frame from the actuator: ${decoded.error}`);
      return;
    }
    const m = decoded.message;
    if (m.kind === 'inputs') this.#onInputs(m.tick, m.inputs);
    else if (m.kind === 'refused') {
      if (m.reason === 'NOT_NEWER') this.stats.refusedNotNewer++;
      else {
        this.stats.refusedStale++;
        if (m.epoch === this.epoch) this.#stepDown(`the actuator follows epoch ${m.followed}, newer than ours (${m.epoch})`);
      }
    }
  }

  /**
   * A tick from the actuator: forwarded to every replica at once (every tick, in order: a voter
   * alone keeps the replicas' tick chain), then voted once the frames that came with it are
   * handled. Of a burst (this voter was stopped or slow and reads many at once) only the newest
   * is voted: the others are too late to command, and count as this voter's lateness.
   */
  #onInputs(tick: number, inputs: readonly number[]): void {
    this.stats.ticksHeard++;
    const frame = encodeMessage({ kind: 'tick', tick, inputs });
    for (const r of this.#replicas) if (r.configured) r.transport?.send(frame);
    const burst = this.#newestHeard >= 0;
    this.#newestHeard = tick;
    if (burst) {
      this.stats.superseded++;
      return;
    }
    queueMicrotask(() => {
      const newest = this.#newestHeard;
      this.#newestHeard = -1;
      if (this.#stopped) return;
      if (this.#open >= 0) {
        // A newer tick before this one closed (the voter, or a replica, was slow): voted with what
        // came, and commanded if a majority backs it (the actuator applies it if nothing newer came).
        this.stats.superseded++;
        this.#close(true, true);
      }
      if (newest <= this.#lastCoreTick) return;
      this.#open = newest;
      resetObservations(this.#obs);
      this.#awaited = this.#replicas.filter((r) => r.configured).length;
      this.#openTimer = setTimeout(() => this.#close(true, false), Math.max(1, this.#periodMs * this.options.deadlineFraction));
    });
  }

  #reply(index: number, outputs: readonly number[], digest: number): void {
    const obs = this.#obs;
    if (obs.onTime[index] === 1) return;
    obs.onTime[index] = 1;
    obs.digests[index] = digest;
    for (let c = 0; c < obs.channelCount; c++) obs.outputs[index * obs.channelCount + c] = outputs[c] ?? 0;
    if (--this.#awaited <= 0) this.#close(true, false);
  }

  /**
   * Votes the open tick; commands it if `command` and this voter may. `late`: this voter was late
   * itself (a newer tick came before this one closed): silence this tick is not held against a replica.
   */
  #close(command: boolean, late: boolean): void {
    const tick = this.#open;
    if (tick < 0) return;
    this.#open = -1;
    if (this.#openTimer !== null) clearTimeout(this.#openTimer);
    this.#openTimer = null;
    // Ticks this voter never voted (it was stopped or slow): the core sees a late host, no evidence against anyone.
    if (this.#lastCoreTick >= 0 && tick - this.#lastCoreTick > 1) {
      const saved = createObservations(this.#obs.replicaCount, this.#obs.channelCount);
      saved.onTime.set(this.#obs.onTime);
      saved.outputs.set(this.#obs.outputs);
      saved.digests.set(this.#obs.digests);
      resetObservations(this.#obs);
      this.#obs.hostLate = true;
      for (let t = this.#lastCoreTick + 1; t < tick; t++) step(this.#core, this.#obs, t);
      resetObservations(this.#obs);
      this.#obs.onTime.set(saved.onTime);
      this.#obs.outputs.set(saved.outputs);
      this.#obs.digests.set(saved.digests);
    }
    this.#obs.hostLate = late;
    this.#readmitLate();
    const result = step(this.#core, this.#obs, tick);
    this.#lastCoreTick = tick;
    for (const e of result.events) {
      if (e.kind === 'replicaExcluded') this.options.log(`tick ${e.tick}: replica ${e.replicaIndex} excluded: ${e.reason}`);
      else if (e.kind === 'modeChanged') this.options.log(`tick ${e.tick}: mode ${e.from} -> ${e.to} (${e.reason})`);
      else if (e.kind === 'replicaReadmitted') this.options.log(`tick ${e.tick}: replica ${e.replicaIndex} back in the vote`);
    }
    this.stats.votes++;
    if (!command) return;
    // Only a command a majority voted for goes to the actuator. A held or safe command is the
    // voter saying it has no majority (replicas it cannot hear, a partition): its silence lets the
    // actuator take a standby that has one, and the actuator's own watchdog holds and then goes safe.
    if (result.commandSource !== 'voted') {
      this.stats.noMajority++;
      return;
    }
    const election = this.#election;
    const nowMs = performance.now();
    let primary: boolean;
    if (this.options.selfFence) {
      if (election === null || this.#rejoining || !election.holdsKey(nowMs)) {
        this.stats.fenced++;
        return;
      }
      primary = election.mayCommand(nowMs);
    } else {
      if (election === null) return;
      primary = election.isLeader;
    }
    if (primary) this.stats.commandsAsPrimary++;
    else this.stats.commandsAsStandby++;
    this.#actuator?.send(encodeActuatorMessage({ kind: 'command', epoch: election.epoch, tick, primary, commands: Array.from(result.commands) }));
  }

  /**
   * A replica excluded for its timing alone (silent or late: its link, or this voter, was slow)
   * that answers on time again goes on probation: nobody reset it, and probation compares its
   * outputs and digest with the vote before it counts again. A replica out for what it said
   * stays out (a voter of a set restarts nobody).
   */
  #readmitLate(): void {
    const core = this.#core;
    if (this.#rejoinSet()) return;
    // Probation compares with the vote: without a majority in service there is none to compare with.
    const inService = core.status.filter((s) => s === 'inService').length;
    if (inService * 2 <= this.#replicas.length) return;
    for (let i = 0; i < this.#replicas.length; i++) {
      const reason = core.exclusionReason[i];
      if (core.status[i] !== 'excluded' || this.#obs.onTime[i] !== 1) continue;
      if (reason === 'DEADLINE_MISSED' || reason === 'LATE_REPLY' || reason === 'LINK_DOWN') {
        this.#obs.probationStart[i] = 1;
        this.stats.probations++;
      }
    }
  }

  /**
   * This voter lost the set (no majority in service in its view: it heard too few of them for
   * longer than a common-mode episode may last, a partition from them, a stop). A majority of
   * excluded replicas answering on time with the same outputs and digest is the set's state, which
   * nobody reset: in service again (the core's cold start), so the voter can stand by, or command,
   * once more.
   */
  #rejoinSet(): boolean {
    const core = this.#core;
    const obs = this.#obs;
    const n = this.#replicas.length;
    if (core.status.filter((s) => s === 'inService').length * 2 > n) return false;
    for (let i = 0; i < n; i++) {
      if (obs.onTime[i] !== 1 || core.status[i] !== 'excluded') continue;
      const agreeing: number[] = [];
      for (let j = 0; j < n; j++) {
        if (obs.onTime[j] !== 1 || core.status[j] !== 'excluded' || obs.digests[j] !== obs.digests[i]) continue;
        let same = true;
        for (let c = 0; c < obs.channelCount; c++) if (obs.outputs[j * obs.channelCount + c] !== obs.outputs[i * obs.channelCount + c]) same = false;
        if (same) agreeing.push(j);
      }
      if (agreeing.length * 2 > n) {
        for (const j of agreeing) obs.coldStart[j] = 1;
        this.stats.setRejoins++;
        this.options.log(`heard a majority of the replicas agree again (${agreeing.join(', ')}): they are back in the vote`);
        return true;
      }
    }
    return false;
  }

  #checkLease(): void {
    const election = this.#election;
    if (this.#stopped || this.#rejoining || election === null || !this.options.selfFence) return;
    if (!election.holdsKey()) this.#stepDown(`its key lapsed (no keepalive acknowledged within the TTL)`);
  }

  /** Leaves the key and joins again with a new, newer epoch (a standby). */
  #stepDown(why: string): void {
    if (this.#rejoining || this.#stopped) return;
    this.#rejoining = true;
    this.stats.stepDowns++;
    const old = this.#election;
    this.#election = null;
    this.options.announce(`stepped down from epoch ${old?.epoch ?? 0}: ${why}`);
    this.options.log(`stepped down from epoch ${old?.epoch ?? 0}: ${why}`);
    const rejoin = (): void => {
      if (this.#stopped) return;
      this.#join()
        .then(() => {
          this.#rejoining = false;
        })
        .catch((error: unknown) => {
          this.options.log(`rejoin failed: ${error instanceof ElectionError ? error.message : String(error)}`);
          setTimeout(rejoin, REJOIN_RETRY_MS);
        });
    };
    // Its key goes at once where etcd can be reached (the next in line leads); otherwise it expires.
    const letGo = old === null ? Promise.resolve() : Promise.race([old.resign().catch(() => {}), new Promise<void>((resolve) => setTimeout(resolve, RESIGN_WAIT_MS))]);
    void letGo.then(rejoin);
  }
}
