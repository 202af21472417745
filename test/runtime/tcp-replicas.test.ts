/**
 * Replicas on other hosts: `tmr replica --listen` servers in network namespaces of their own
 * (test/helpers/netns.ts; on loopback without the privileges), `tmr run --replica tcp:…` in
 * another, and frames authenticated on every link. What is asserted holds whatever the scheduler
 * does: the simulation's trace up to the first named timing event, no unsafe command, refused
 * frames counted and never voted, a wrong key refused by name and never printed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/loop/loop-model.js';
import type { RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { cobsDecode, cobsEncode, cobsEncodedSizeMax } from '../../src/protocol/cobs.js';
import { writeNewKeyFile } from '../../src/transport/key-file.js';
import { assertFreshBuild, CLI, runCli } from '../helpers/cli.js';
import { runAgainstSim } from '../helpers/fault-free-trace.js';
import { timingFigure } from '../helpers/timing-figure.js';
import { commandOf, lineFrom, makeHosts, type Hosts } from '../helpers/netns.js';

type Summary = RunSummary & Pick<RealtimeSummary, 'links'>;

let dir: string;
let key: string;
let otherKey: string;

beforeAll(() => {
  assertFreshBuild();
  dir = mkdtempSync(join(tmpdir(), 'tmr-tcp-'));
  key = join(dir, 'tmr.key');
  otherKey = join(dir, 'other.key');
  writeNewKeyFile(key);
  writeNewKeyFile(otherKey);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keyHex = (path: string): string => readFileSync(path, 'utf8').trim();

interface Server_ {
  /** HOST:PORT it listens on. */
  readonly address: string;
  readonly stderr: () => string;
  /** SIGTERM, then its log. */
  stop(): Promise<string>;
}

/** `tmr replica --listen ADDRESS:0` on a host; resolves once it listens. */
async function startReplicaServer(hosts: Hosts, host: string, keyFile: string, law?: string): Promise<Server_> {
  const child = hosts.spawnNode(host, [CLI, 'replica', '--listen', `${hosts.address(host)}:0`, '--key-file', keyFile, ...(law === undefined ? [] : ['--law', law])]);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const match = await lineFrom(child, /^listening on (\S+)\n/m, 60_000);
  // `ip netns exec` and setpriv exec in place: the PID is the replica server's own.
  expect(commandOf(child.pid!)).toBe('node');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    address: match[1]!,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      return stderr;
    },
  };
}

async function tmrIn(hosts: Hosts, host: string, args: string[]): Promise<{ code: number | null; stderr: string; stdout: string; summary: Summary | null }> {
  const result = await runCli([...args, '--json'], { timeoutMs: 240_000, prefix: hosts.prefix(host) });
  let summary: Summary | null = null;
  try {
    summary = JSON.parse(result.stdout) as Summary;
  } catch {
    summary = null;
  }
  return { ...result, summary };
}

async function tmrOk(hosts: Hosts, host: string, args: string[]): Promise<Summary> {
  const result = await tmrIn(hosts, host, args);
  expect(result.code, `tmr ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.summary!;
}

describe('replicas over authenticated TCP on other hosts', () => {
  let hosts: Hosts;
  beforeAll(() => {
    hosts = makeHosts(['voter', 'ra', 'rb']);
  });
  afterAll(async () => {
    await hosts?.cleanup();
  });

  it('one local Node replica and two tcp replicas in other namespaces equal tmr sim, and a crashed tcp replica is brought back', async () => {
    const a = await startReplicaServer(hosts, 'ra', key);
    const b = await startReplicaServer(hosts, 'rb', key);
    try {
      const replicas = ['--replica', 'node', '--replica', `tcp:${a.address}`, '--replica', `tcp:${b.address}`, '--key-file', key];
      const common = ['--rate-hz', '200', '--ticks', '2000', '--seed', '5'];
      const { run } = await runAgainstSim(common, replicas, { label: `tcp replicas (${hosts.kind})`, runTmr: (args) => tmrOk(hosts, 'voter', args) });
      expect(run.unsafeCommands).toBe(0);
      expect(run.ticks).toBe(2000);
      for (const i of [1, 2]) {
        const link = run.links[i]!;
        expect(link.description).toMatch(/\(tcp:/);
        expect(link.framesIn, `replica ${i}'s replies`).toBeGreaterThanOrEqual(2000 - 10);
        expect(link.framesRefused).toBe(0);
      }

      // A crash on a tcp replica reboots it in place; with --recover the voter reconnects, shakes
      // hands, transfers the majority's state and re-admits it: masked all along.
      const faulted = [...common, '--inject', 'crash:2@600', '--recover'];
      const { run: recovered } = await runAgainstSim(faulted, replicas, { label: `tcp replica crash (${hosts.kind})`, runTmr: (args) => tmrOk(hosts, 'voter', args) });
      expect(recovered.unsafeCommands).toBe(0);
      expect(recovered.faults[0]).toMatchObject({ kind: 'crash', replica: 2 });
      // Whether the crash reached the replica in service, and the replica came back, depends on the
      // machine: one busy enough may have taken replica 2 out for its timing first (the in-process
      // test of the server, test/replica/replica-server.test.ts, holds the reboot and the new session).
      const log = b.stderr();
      const crashAt = log.indexOf('crash (injected)');
      const sessionAfterCrash = crashAt >= 0 && log.indexOf('session from', crashAt) > crashAt;
      timingFigure(`tcp replica crash (${hosts.kind}): the crash not delivered, or no new session after it`, sessionAfterCrash ? 0 : 1, 0, { replica: recovered.replicas[2], faults: recovered.faults });
    } finally {
      await a.stop();
      await b.stop();
    }
    // The key is never printed.
    expect(a.stderr() + b.stderr()).not.toContain(keyHex(key).slice(0, 16));
  });

  it('a replica with another key is refused at the handshake, by name, and the key is never printed', async () => {
    const a = await startReplicaServer(hosts, 'ra', key);
    const wrong = await startReplicaServer(hosts, 'rb', otherKey);
    try {
      const args = ['run', '--rate-hz', '200', '--ticks', '200', '--replica', 'node', '--replica', `tcp:${a.address}`, '--replica', `tcp:${wrong.address}`, '--key-file', key];
      const full = await tmrIn(hosts, 'voter', args);
      expect(full.code, full.stderr).toBe(1);
      expect(full.stderr).toMatch(new RegExp(`replica 2 \\(tcp:${wrong.address.replace(/[.[\]]/g, '\\$&')}\\): START_FAILED: wrong key`));
      const degraded = await tmrIn(hosts, 'voter', [...args, '--start-policy', 'degraded']);
      expect(degraded.code, degraded.stderr).toBe(0);
      expect(degraded.summary!.replicas[2]!.state).toBe('excluded');
      expect(degraded.summary!.unsafeCommands).toBe(0);
      for (const text of [full.stderr, full.stdout, degraded.stderr, degraded.stdout, wrong.stderr()]) {
        expect(text).not.toContain(keyHex(key).slice(0, 16));
        expect(text).not.toContain(keyHex(otherKey).slice(0, 16));
      }
    } finally {
      await a.stop();
      const log = await wrong.stop();
      expect(log).toMatch(/refused \S+ at the handshake: /);
    }
  });
});

/**
 * A man in the middle on loopback: forwards every frame both ways, and at each of the given frame
 * counts sends the voter a replay of a frame it forwarded before and a forgery (one tag byte
 * changed), and sends the replica a replay of a frame it forwarded before.
 */
async function startMitm(target: string, atFrames: readonly number[]): Promise<{ port: number; injected: () => { toVoter: number; toReplica: number }; close: () => Promise<void> }> {
  const [host, portText] = [target.slice(0, target.lastIndexOf(':')), target.slice(target.lastIndexOf(':') + 1)];
  const sockets: Socket[] = [];
  const injected = { toVoter: 0, toReplica: 0 };
  const server: Server = createServer((voter) => {
    const replica = createConnection({ host, port: Number(portText), noDelay: true });
    // Nagle's algorithm would hold each small frame for the peer's delayed ACK (tens of ms).
    voter.setNoDelay(true);
    sockets.push(voter, replica);
    const pipe = (from: Socket, to: Socket, direction: 'toVoter' | 'toReplica'): void => {
      let pending: number[] = [];
      let count = 0;
      /** The last 64 frames forwarded. */
      const seen: Uint8Array[] = [];
      from.on('data', (chunk: Buffer) => {
        for (const byte of chunk) {
          if (byte !== 0) {
            pending.push(byte);
            continue;
          }
          const frame = Uint8Array.from([...pending, 0]);
          pending = [];
          to.write(frame);
          seen.push(frame);
          if (seen.length > 64) seen.shift();
          if (atFrames.includes(++count)) {
            // A replay of a frame forwarded 20 frames ago.
            to.write(seen[seen.length - 21]!);
            injected[direction]++;
            if (direction === 'toVoter') {
              // A forgery: the last frame with its tag's last byte changed, valid COBS.
              const body = frame.subarray(0, frame.length - 1);
              const decoded = new Uint8Array(body.length);
              const n = cobsDecode(body, decoded);
              const forged = decoded.slice(0, n);
              forged[n - 1] = (forged[n - 1] as number) ^ 0x80;
              const out = new Uint8Array(cobsEncodedSizeMax(n) + 1);
              to.write(out.slice(0, cobsEncode(forged, out) + 1));
              injected[direction]++;
            }
          }
        }
      });
      from.on('close', () => to.destroy());
      from.on('error', () => to.destroy());
    };
    pipe(voter, replica, 'toReplica');
    pipe(replica, voter, 'toVoter');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    injected: () => ({ ...injected }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('forged and replayed frames on a live link', () => {
  // The man in the middle runs in this process, on loopback: the hosts here are all this one.
  const loopback = makeHosts(['ra', 'rb', 'voter'], { loopback: true });
  afterAll(async () => {
    await loopback.cleanup();
  });

  it('are refused and counted at both ends; no command is voted from them, and the trace is the simulation\'s', async () => {
    const a = await startReplicaServer(loopback, 'ra', key);
    const b = await startReplicaServer(loopback, 'rb', key);
    // Frame 1,000 is in the warm-up's 2,000 ticks, always sent; frame 2,300 is in the run itself,
    // reached unless the replica was out by then (for its timing, on a busy machine).
    const mitm = await startMitm(b.address, [1_000, 2_300]);
    let injected = { toVoter: 0, toReplica: 0 };
    try {
      const replicas = ['--replica', 'node', '--replica', `tcp:${a.address}`, '--replica', `tcp:127.0.0.1:${mitm.port}`, '--key-file', key];
      const common = ['--rate-hz', '200', '--ticks', '1500', '--seed', '9'];
      const { run } = await runAgainstSim(common, replicas, { label: 'forged and replayed frames', runTmr: (args) => tmrOk(loopback, 'voter', args) });
      injected = mitm.injected();
      expect(injected.toVoter).toBeGreaterThanOrEqual(2);
      expect(injected.toReplica).toBeGreaterThanOrEqual(1);
      expect(run.unsafeCommands).toBe(0);
      const link = run.links[2]!;
      // Every injected frame is refused by the link; those that came while replica 2 was in the
      // loop are corrupt frames of that replica too (one busy enough may have taken it out first).
      expect(link.framesRefused, JSON.stringify(link)).toBe(injected.toVoter);
      expect(link.corruptFrames).toBeLessThanOrEqual(link.framesRefused);
    } finally {
      await mitm.close();
      await a.stop();
    }
    const log = await b.stop();
    expect(log).toContain(`refused ${injected.toReplica} frames (0 bad tag, ${injected.toReplica} replayed, 0 malformed)`);
  });
});
