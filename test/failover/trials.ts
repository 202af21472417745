/**
 * Failover trials (issue 19): a redundant voter set on real "hosts" (network namespaces made
 * here, test/helpers/netns.ts; loopback without the privileges), a real 3-member etcd cluster,
 * three `tmr replica` servers, one `tmr actuator`, two `tmr voter`s, and one fault on the primary
 * per trial, chosen and timed by the trial's seed. The verdict comes from the actuator's own log
 * (checker.ts, Jepsen style) and its audit, never from what the voters believe.
 *
 * Used by `npm run test:failover` (test/failover/run-trials.ts) and the real-time test
 * (failover.test.ts).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ArbiterLogEntry } from '../../src/failover/arbiter.js';
import { checkActuatorLog } from '../../src/failover/checker.js';
import type { ActuatorSummary } from '../../src/failover/actuator-server.js';
import { Prng } from '../../src/core/prng.js';
import { writeNewKeyFile } from '../../src/transport/key-file.js';
import { freePort, lineFrom, makeHosts, type Hosts } from '../helpers/netns.js';
import { EtcdCluster } from '../setup/etcd-cluster.js';

/** The built CLI, whether this runs from test/ (vitest) or from dist/test/ (npm run test:failover). */
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = existsSync(join(HERE, '..', '..', 'package.json')) ? join(HERE, '..', '..') : join(HERE, '..', '..', '..');
const CLI = join(ROOT, 'dist', 'bin', 'tmr.js');

export const RATE_HZ = 200;
/** Silent actuator ticks before a standby's command is taken. */
export const SILENT_TICKS_MAX = 5;
/** Silent actuator ticks before the actuator's own watchdog applies the safe values (the checker's gap bound). */
export const WATCHDOG_TICKS = 50;
/**
 * The voters' lease. 1 s left a standby without a live key while etcd elected a new leader after
 * its leader died (0.5 to 1 s here), so it fenced itself and the actuator went safe: 2 s rides
 * that out. A primary cut off from etcd then commands for up to 2 s less the margin before it
 * stops, so partitions last longer than that.
 */
export const TTL_S = 2;

export const FAULT_KINDS = ['kill', 'stop', 'stop-unfenced', 'partition-etcd', 'partition-replicas', 'etcd-member', 'etcd-leader-and-primary'] as const;
export type TrialFault = (typeof FAULT_KINDS)[number];
/** Faults that need a network between hosts (netns): on loopback they are left out, and said so. */
const NEEDS_NETNS: readonly TrialFault[] = ['partition-etcd', 'partition-replicas'];
/** Faults after which a standby must take over. */
const TAKES_OVER: readonly TrialFault[] = ['kill', 'stop', 'stop-unfenced', 'partition-etcd', 'partition-replicas', 'etcd-leader-and-primary'];

export interface TrialResult {
  readonly seed: number;
  readonly fault: TrialFault;
  /** What the checker and the trial's own assertions found (empty: nothing). */
  readonly violations: readonly string[];
  /** Actuator ticks from the primary's last applied command to the standby's first (null: no takeover). */
  readonly takeoverTicks: number | null;
  readonly actuator: ActuatorSummary;
  /** Commands of the old primary's epoch the actuator refused after the takeover. */
  readonly staleRefused: number;
  readonly primarySteppedDown: boolean;
  /** What a trial claims beyond safety that did not hold (a busy machine can cause these; see runTrial). */
  readonly claims: readonly string[];
  /** How to run this one trial again. */
  readonly replay: string;
}

export interface TrialOptions {
  /** The loop's rate (default RATE_HZ). */
  readonly rateHz?: number;
  /** Real I/O at the actuator (`tmr actuator --io SCHEME [--io-map FILE]`); absent: the plant model. */
  readonly io?: { readonly scheme: string; readonly mapPath?: string };
}

const HOST_NAMES = ['e0', 'e1', 'e2', 'act', 'r0', 'r1', 'r2', 'v0', 'v1'];
const PORT = { replica: 7000, actuator: 7100 };

export class TrialBench {
  private constructor(
    readonly hosts: Hosts,
    readonly etcd: EtcdCluster,
    readonly dir: string,
    readonly keyFile: string,
    /** Where each trial's actuator log and processes' output are kept (null: nowhere). */
    readonly keepIn: string | null,
  ) {}

  static async start(options: { loopback?: boolean; keepIn?: string } = {}): Promise<TrialBench> {
    const hosts = makeHosts(HOST_NAMES, options);
    let etcd: EtcdCluster;
    try {
      etcd = await EtcdCluster.start(hosts.kind === 'netns' ? { hosts: { hosts, names: ['e0', 'e1', 'e2'] } } : { members: 3 });
    } catch (error) {
      await hosts.cleanup();
      throw error;
    }
    const dir = mkdtempSync(join(tmpdir(), 'tmr-failover-'));
    const keyFile = join(dir, 'key');
    writeNewKeyFile(keyFile);
    if (options.keepIn !== undefined) mkdirSync(options.keepIn, { recursive: true });
    return new TrialBench(hosts, etcd, dir, keyFile, options.keepIn ?? null);
  }

  get kinds(): readonly TrialFault[] {
    return this.hosts.kind === 'netns' ? FAULT_KINDS : FAULT_KINDS.filter((k) => !NEEDS_NETNS.includes(k));
  }

  async stop(): Promise<void> {
    await this.hosts.cleanup();
    await this.etcd.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The etcd member that leads now (its index), from etcdctl's endpoint status. */
  etcdLeader(): number {
    const m = this.etcd.members;
    const prefix = this.hosts.prefix(m.find((x) => x.process !== null)?.host ?? 'e0');
    const [file, ...args] = [...prefix, 'etcdctl', '--endpoints', this.etcd.endpoints.join(','), '--dial-timeout', '1s', 'endpoint', 'status', '-w', 'json'];
    const out = execFileSync(file!, args, { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 });
    const status = JSON.parse(out) as { Endpoint: string; Status: { header: { member_id: number | string }; leader: number | string } }[];
    const leader = status.find((s) => String(s.Status.header.member_id) === String(s.Status.leader));
    const index = leader === undefined ? -1 : m.findIndex((x) => x.clientUrl === leader.Endpoint);
    if (index < 0) throw new Error(`no etcd leader in ${out.slice(0, 300)}`);
    return index;
  }

  /** Who etcd says leads the set now: the voter id and epoch of its oldest key (null: no key). */
  leaderOf(set: string): { voterId: string; epoch: number } | null {
    const running = this.etcd.members.find((x) => x.process !== null);
    const prefix = this.hosts.prefix(running?.host ?? 'e0');
    const [file, ...args] = [...prefix, 'etcdctl', '--endpoints', this.etcd.endpoints.join(','), '--dial-timeout', '1s', 'get', '--prefix', `tmr/${set}/voters/`, '-w', 'json'];
    const out = execFileSync(file!, args, { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000 });
    const kvs = (JSON.parse(out) as { kvs?: { create_revision: number; value: string }[] }).kvs ?? [];
    if (kvs.length === 0) return null;
    const oldest = kvs.reduce((a, b) => (b.create_revision < a.create_revision ? b : a));
    return { voterId: Buffer.from(oldest.value, 'base64').toString('utf8'), epoch: oldest.create_revision };
  }

  /**
   * One trial. The checker's findings (a tick under two epochs, an older epoch after a newer one, a
   * tick applied twice or backwards), unsafe commands and a missing takeover are violations; the
   * longest run of ticks without an applied command is reported (`actuator.longestGapTicks`), and
   * past the actuator's watchdog it is a claim missed: the actuator went safe, as it should when
   * nobody commands, but the set did not carry on.
   */
  async runTrial(seed: number, fault: TrialFault, options: TrialOptions = {}): Promise<TrialResult> {
    const rateHz = options.rateHz ?? RATE_HZ;
    const ioArgs = ioFlags(options.io);
    const prng = new Prng(seed);
    const { hosts } = this;
    const set = `trial-${seed}-${process.pid % 10_000}`;
    const logPath = join(this.dir, `actuator-${seed}.log`);
    const children: ChildProcess[] = [];
    const addressOf = async (host: string, port: number): Promise<string> => `${hosts.address(host)}:${hosts.kind === 'netns' ? port : await freePort()}`;
    const violations: string[] = [];
    const outputs = new Map<ChildProcess, { name: string; text: string }>();
    const spawn = (host: string, name: string, argv: readonly string[]): ChildProcess => {
      const child = hosts.spawnNode(host, argv);
      const o = { name, text: '' };
      outputs.set(child, o);
      child.stdout!.on('data', (c: Buffer) => (o.text += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (o.text += c.toString()));
      return child;
    };
    try {
      // Replicas, then the actuator, then the primary (the older key), then the standby.
      const replicaAddresses: string[] = [];
      for (const r of ['r0', 'r1', 'r2']) {
        const child = spawn(r, r, [CLI, 'replica', '--listen', await addressOf(r, PORT.replica), '--key-file', this.keyFile, '--law', 'pid-q16']);
        children.push(child);
        replicaAddresses.push((await lineFrom(child, /listening on (\S+)/, 30_000))[1]!);
      }
      const actuator = spawn('act', 'actuator', [CLI, 'actuator', '--listen', await addressOf('act', PORT.actuator), '--key-file', this.keyFile, '--law', 'pid-q16', '--rate-hz', String(rateHz), '--voters', '2', '--silent-ticks', String(SILENT_TICKS_MAX), '--watchdog-ticks', String(WATCHDOG_TICKS), '--log', logPath, '--seed', String(seed), ...ioArgs]);
      children.push(actuator);
      const actuatorAddress = (await lineFrom(actuator, /listening on (\S+)/, 30_000))[1]!;
      let actuatorOut = '';
      actuator.stdout!.on('data', (c: Buffer) => (actuatorOut += c.toString()));
      const voterArgs = (id: string): string[] => [CLI, 'voter', '--actuator', actuatorAddress, ...replicaAddresses.flatMap((a) => ['--replica', a]), '--key-file', this.keyFile, '--etcd', this.etcd.endpoints.join(','), '--set', set, '--id', id, '--law', 'pid-q16', '--rate-hz', String(rateHz), '--ttl-s', String(TTL_S), ...(fault === 'stop-unfenced' ? ['--no-self-fence'] : [])];
      const voters = new Map<string, { child: ChildProcess; out: string }>();
      for (const id of ['v0', 'v1']) {
        const child = spawn(id, id, voterArgs(id));
        children.push(child);
        const v = { child, out: '' };
        child.stdout!.on('data', (c: Buffer) => (v.out += c.toString()));
        voters.set(id, v);
        await lineFrom(child, /epoch (\d+)/, 30_000);
      }
      await lineFrom(actuator, /the clock starts/, 30_000, 'stderr');
      // The fault, at a seeded time once the loop runs, on whichever voter etcd says leads then.
      await sleep(1_000 + prng.nextBelow(1_000));
      const leader = this.leaderOf(set);
      if (leader === null) throw new Error(`no voter holds a key in set ${set}`);
      const primaryId = leader.voterId;
      const primaryEpoch = leader.epoch;
      const primary = voters.get(primaryId)!.child;
      const primaryHost = primaryId;
      const faultDurationMs = 2_000;
      const partitionMs = TTL_S * 1_000 + 1_000;
      let etcdKilled = -1;
      switch (fault) {
        case 'kill':
          primary.kill('SIGKILL');
          break;
        case 'stop':
        case 'stop-unfenced':
          primary.kill('SIGSTOP');
          await sleep(faultDurationMs);
          primary.kill('SIGCONT');
          break;
        case 'partition-etcd':
          for (const e of ['e0', 'e1', 'e2']) hosts.partition(primaryHost, e);
          await sleep(partitionMs);
          for (const e of ['e0', 'e1', 'e2']) hosts.heal(primaryHost, e);
          break;
        case 'partition-replicas':
          for (const r of ['r0', 'r1', 'r2']) hosts.partition(primaryHost, r);
          await sleep(partitionMs);
          for (const r of ['r0', 'r1', 'r2']) hosts.heal(primaryHost, r);
          break;
        case 'etcd-member':
          etcdKilled = prng.nextBelow(3);
          await this.etcd.kill(etcdKilled);
          break;
        case 'etcd-leader-and-primary':
          etcdKilled = this.etcdLeader();
          primary.kill('SIGKILL');
          await this.etcd.kill(etcdKilled);
          break;
      }
      // Long enough after the fault for the former primary to have lost its key and stepped down.
      await sleep(2_500);
      actuator.kill('SIGTERM');
      await exited(actuator, 10_000);
      const summaryLine = actuatorOut.trim().split('\n').at(-1) ?? '';
      const summary = JSON.parse(summaryLine) as ActuatorSummary;
      if (etcdKilled >= 0) {
        this.etcd.startMember(etcdKilled);
        await this.etcd.waitHealthy(30_000);
      }
      const entries = readFileSync(logPath, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as ArbiterLogEntry);
      const check = checkActuatorLog(entries);
      for (const v of check.violations) violations.push(`${v.kind} at actuator tick ${v.actuatorTick}: ${v.detail}`);
      if (summary.unsafeCommands > 0) violations.push(`${summary.unsafeCommands} unsafe commands applied`);
      const applied = entries.filter((e): e is Extract<ArbiterLogEntry, { kind: 'applied' }> => e.kind === 'applied');
      if (applied.length === 0) violations.push('nothing was ever applied');
      const lastOld = applied.filter((e) => e.epoch === primaryEpoch).at(-1);
      // The takeover that ended the primary's commanding: the first newer epoch after its last command.
      const firstNew = applied.find((e) => e.epoch > primaryEpoch && (lastOld === undefined || e.actuatorTick > lastOld.actuatorTick));
      const takeoverTicks = lastOld !== undefined && firstNew !== undefined ? firstNew.actuatorTick - lastOld.actuatorTick : null;
      const takeoverAt = firstNew?.actuatorTick ?? Number.POSITIVE_INFINITY;
      const staleRefused = entries.filter((e) => e.kind === 'refused' && e.epoch === primaryEpoch && e.actuatorTick >= takeoverAt).length;
      // Liveness: after a fault that silences the primary, a newer epoch commands.
      if (TAKES_OVER.includes(fault) && firstNew === undefined) violations.push(`no standby took over after ${fault} (the primary's epoch ${primaryEpoch})`);
      // Claims about the former primary (missing one is reported, not a safety violation: a busy
      // machine can make the actuator take the standby before the fault, which is safe).
      const claims: string[] = [];
      if (!TAKES_OVER.includes(fault) && firstNew !== undefined) claims.push(`a takeover to epoch ${firstNew.epoch} after ${fault}, which leaves the primary running`);
      const steppedDown = /stepped down/.test(voters.get(primaryId)!.out);
      if ((fault === 'stop' || fault === 'stop-unfenced' || fault === 'partition-etcd') && !steppedDown) claims.push(`the former primary never stepped down after ${fault}`);
      if (fault === 'stop-unfenced' && staleRefused === 0) claims.push('the unfenced primary sent no command after its stop, or none was refused');
      if (check.longestGapTicks > WATCHDOG_TICKS) claims.push(`${check.longestGapTicks} actuator ticks without an applied command from tick ${check.longestGapAt}: past the watchdog (${WATCHDOG_TICKS}), the actuator went safe`);
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await Promise.all(children.map((c) => exited(c, 10_000)));
      return { seed, fault, violations, claims, takeoverTicks, actuator: summary, staleRefused, primarySteppedDown: steppedDown, replay: `npm run test:failover -- --seed ${seed} --fault ${fault}${replayOptions(options)}` };
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.all(children.map((c) => exited(c, 5_000)));
      if (this.keepIn !== null) {
        if (existsSync(logPath)) copyFileSync(logPath, join(this.keepIn, `trial-${seed}-actuator.log`));
        writeFileSync(join(this.keepIn, `trial-${seed}-output.txt`), [...outputs.values()].map((o) => `== ${o.name}\n${o.text}`).join('\n'));
      }
      rmSync(logPath, { force: true });
    }
  }
}

/** `--io SCHEME [--io-map FILE]`, as tmr actuator and run-trials both take them. */
function ioFlags(io: TrialOptions['io']): string[] {
  return io === undefined ? [] : ['--io', io.scheme, ...(io.mapPath === undefined ? [] : ['--io-map', io.mapPath])];
}

/** The trial options as run-trials' flags. */
function replayOptions(options: TrialOptions): string {
  const flags = [...(options.rateHz === undefined ? [] : ['--rate-hz', String(options.rateHz)]), ...ioFlags(options.io)];
  return flags.length === 0 ? '' : ` ${flags.join(' ')}`;
}

function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
