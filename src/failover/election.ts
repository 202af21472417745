/**
 * Which voter of a redundant set is primary, from etcd (issue 19). Each voter holds a lease and a
 * key under tmr/SET/voters/ bound to it; the key's creation revision is the voter's epoch (its
 * fencing token: ordered cluster-wide, fixed for this campaign) and the voter with the lowest is
 * the leader. A key goes when its lease expires or is revoked, and the next in line leads.
 *
 * etcd arbitrates who may become primary; it does not sit in the command path, and it cannot
 * take over fast (a lease outlives its holder by up to its TTL). Two things make up for that:
 * the actuator takes a standby's commands after a bounded silence (arbiter.ts), and a leader
 * that loses etcd stops commanding on its own deadline, before its lease can expire anywhere:
 * the send time of its last acknowledged keepalive plus the granted TTL, on its own monotonic
 * clock, less a margin. etcd counts the TTL from when it received that keepalive, which is later,
 * so the deadline always comes first. No lease-loss event is waited for: the etcd3 client notices
 * a lost connection only after about two TTLs (etcd3#110, ../shared/notes/redundant-voter.md).
 *
 * The etcd3 client is loaded when a voter joins (0.15 to 0.2 s): `import 'tmr'` stays light.
 */
import { performance } from 'node:perf_hooks';
import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3';
import { assert } from '../core/assert.js';

export interface ElectionOptions {
  /** etcd client URLs (http://HOST:PORT). */
  readonly endpoints: readonly string[];
  /** Names the voter set: its keys are under tmr/SET/voters/. */
  readonly set: string;
  /** Names this voter in its key's value (for people reading etcd). */
  readonly voterId: string;
  /** Lease TTL asked for, in whole seconds (etcd may grant more; never less). */
  readonly ttlS: number;
  /** A leader stops this long before its own deadline (scheduling slack for the last command). */
  readonly fenceMarginMs: number;
  /** Monotonic clock in ms (performance.now by default). */
  readonly nowMs?: () => number;
  /** Called whenever leadership or the fence deadline changes. */
  readonly onChange?: (election: VoterElection) => void;
}

/** Why a voter cannot join: etcd unreachable, or refused. One line. */
export class ElectionError extends Error {
  override readonly name = 'ElectionError';
}

const SET_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const TTL_S_MAX = 60;
/** Keepalive sends whose answer may still come; past this many the oldest is taken as lost. */
const KEEPALIVES_AWAITED_MAX = 16;

export class VoterElection {
  #leader = false;
  #closed = false;
  /** Send times of keepalives not yet answered, oldest first (answers come in order on one stream). */
  readonly #keepalivesSentMs: number[] = [];
  #fenceDeadlineMs: number;
  #grantedTtlS: number;
  #leaderEpoch = 0;

  private constructor(
    private readonly client: Etcd3,
    private readonly lease: Lease,
    private readonly watcher: Watcher,
    private readonly options: ElectionOptions,
    readonly epoch: number,
    readonly key: string,
    grantedAtMs: number,
  ) {
    this.#grantedTtlS = options.ttlS;
    this.#fenceDeadlineMs = grantedAtMs + options.ttlS * 1000;
  }

  /** The key prefix of a voter set. */
  static prefix(set: string): string {
    return `tmr/${set}/voters/`;
  }

  /** Grants a lease, puts this voter's key on it, and learns who leads. */
  static async join(options: ElectionOptions): Promise<VoterElection> {
    if (!SET_NAME.test(options.set)) throw new ElectionError(`voter set name '${options.set}': lower case letters, digits and '-', at most 32`);
    if (!(Number.isInteger(options.ttlS) && options.ttlS >= 1 && options.ttlS <= TTL_S_MAX)) throw new ElectionError(`lease TTL ${options.ttlS} s: a whole number of seconds, 1..${TTL_S_MAX}`);
    assert(options.fenceMarginMs >= 0 && options.fenceMarginMs < options.ttlS * 1000, `fenceMarginMs ${options.fenceMarginMs} against a TTL of ${options.ttlS} s`);
    const now = options.nowMs ?? (() => performance.now());
    const { Etcd3 } = await import('etcd3');
    const client = new Etcd3({ hosts: [...options.endpoints], dialTimeout: 2_000 });
    const prefix = VoterElection.prefix(options.set);
    try {
      const lease = client.lease(options.ttlS);
      const sentMs = now();
      // grant() resolves with the error instead of rejecting when etcd cannot be reached.
      const leaseId: unknown = await lease.grant();
      if (leaseId instanceof Error) throw leaseId;
      if (typeof leaseId !== 'string') throw new Error(`etcd granted no lease (${String(leaseId)})`);
      const key = `${prefix}${leaseId}`;
      const put = await lease.put(key).value(options.voterId).exec();
      const epoch = Number(put.header.revision);
      const watcher = await client.watch().prefix(prefix).create();
      const election = new VoterElection(client, lease, watcher, options, epoch, key, sentMs);
      election.#follow(now);
      await election.refresh();
      return election;
    } catch (error) {
      client.close();
      throw new ElectionError(`cannot join voter set '${options.set}' at ${options.endpoints.join(',')}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }

  /** Whether etcd says this voter leads (its key is the oldest of the set). */
  get isLeader(): boolean {
    return this.#leader && !this.#closed;
  }

  /** The epoch of the voter etcd says leads (0: unknown). */
  get leaderEpoch(): number {
    return this.#leaderEpoch;
  }

  /** Until when (monotonic ms) this voter may command as primary, whatever etcd says later. */
  get fenceDeadlineMs(): number {
    return this.#fenceDeadlineMs - this.options.fenceMarginMs;
  }

  /** The TTL etcd granted, in seconds. */
  get grantedTtlS(): number {
    return this.#grantedTtlS;
  }

  /** Whether this voter may still count on its key (primary or standby): not closed, within its own deadline. */
  holdsKey(nowMs: number = (this.options.nowMs ?? (() => performance.now()))()): boolean {
    return !this.#closed && nowMs < this.fenceDeadlineMs;
  }

  /** Primary now: etcd's leader, and within its own deadline. */
  mayCommand(nowMs: number = (this.options.nowMs ?? (() => performance.now()))()): boolean {
    return this.isLeader && nowMs < this.fenceDeadlineMs;
  }

  /** Reads the set from etcd and updates leadership. */
  async refresh(): Promise<void> {
    const response = await this.client.getAll().prefix(VoterElection.prefix(this.options.set)).exec();
    const revisions = response.kvs.map((kv: IKeyValue) => Number(kv.create_revision));
    const oldest = revisions.length === 0 ? 0 : Math.min(...revisions);
    this.#leaderEpoch = oldest;
    const leader = oldest === this.epoch;
    if (leader !== this.#leader) {
      this.#leader = leader;
      this.options.onChange?.(this);
    }
  }

  /** Gives up the lead and the key (the lease is revoked: the next in line leads at once). */
  async resign(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#leader = false;
    this.#fenceDeadlineMs = -Infinity;
    try {
      await this.lease.revoke();
    } finally {
      await this.#shut();
    }
  }

  /**
   * Stops keeping the lease alive without revoking it, and lets go of etcd: what a voter that
   * dies looks like to the others (its key goes when the lease expires). Tests use it.
   */
  async abandon(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.lease.release();
    await this.#shut();
  }

  async #shut(): Promise<void> {
    await this.watcher.cancel().catch(() => {});
    this.client.close();
  }

  #follow(now: () => number): void {
    const { lease, watcher } = this;
    lease.on('keepaliveFired', () => {
      this.#keepalivesSentMs.push(now());
      if (this.#keepalivesSentMs.length > KEEPALIVES_AWAITED_MAX) this.#keepalivesSentMs.shift();
    });
    lease.on('keepaliveSucceeded', (response) => {
      const sentMs = this.#keepalivesSentMs.shift();
      const ttlS = Number(response.TTL);
      if (sentMs === undefined || !(ttlS > 0)) return;
      this.#grantedTtlS = ttlS;
      this.#fenceDeadlineMs = Math.max(this.#fenceDeadlineMs, sentMs + Math.min(ttlS, this.options.ttlS) * 1000);
      this.options.onChange?.(this);
    });
    lease.on('lost', () => {
      this.#fenceDeadlineMs = -Infinity;
      this.#leader = false;
      this.options.onChange?.(this);
    });
    const changed = (): void => {
      if (!this.#closed) void this.refresh().catch(() => {});
    };
    watcher.on('put', changed);
    watcher.on('delete', changed);
    watcher.on('connected', changed);
  }
}
