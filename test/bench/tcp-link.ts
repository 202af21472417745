/**
 * Replicas over authenticated TCP between hosts (issue 19): `tmr run` at 200 Hz in one network
 * namespace with three `tmr replica` servers in three others (test/helpers/netns.ts; loopback
 * when namespaces cannot be made), beside a bare TCP echo between the same namespaces over the
 * same bridge: the same frame size, the same rate, no tmr (the floor). Reported: the tick round
 * trip (p50, p99) against the echo's round trip, and the reply time.
 *
 * Figures only (INFO rows) beside their floors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNewKeyFile } from '../../src/transport/key-file.js';
import { lineFrom, makeHosts, type Hosts } from '../helpers/netns.js';
import { infoRow, type ResultRow } from './bench-stats.js';

const RATE_HZ = 200;
const TICKS = 4_000;
const ECHO_ROUND_TRIPS = 4_000;
/** Bytes of a sealed tick frame of pid-q16 (the echo sends as many each way). */
const ECHO_FRAME_BYTES = 60;

/** A TCP echo server: prints its port, returns every byte. */
const ECHO_SERVER = `
const net = require('node:net');
const server = net.createServer({ noDelay: true }, (s) => { s.setNoDelay(true); s.on('data', (c) => s.write(c)); s.on('error', () => {}); });
server.listen(0, process.argv[1], () => console.log('listening on ' + process.argv[1] + ':' + server.address().port));
`;

/** Sends one frame per period, waits for it back, prints the round trips' percentiles as JSON. */
const ECHO_CLIENT = `
const net = require('node:net');
const [host, port, count, periodMs, bytes] = process.argv.slice(1);
const frame = Buffer.alloc(Number(bytes), 7); frame[frame.length - 1] = 0;
const s = net.connect({ host, port: Number(port), noDelay: true }, () => next());
const rtts = []; let sentAt = 0; let got = 0; let n = 0;
s.on('data', (c) => { got += c.length; if (got >= frame.length) { got -= frame.length; rtts.push(Number(process.hrtime.bigint() - sentAt) / 1000); if (++n >= Number(count)) done(); else setTimeout(next, Number(periodMs)); } });
function next() { sentAt = process.hrtime.bigint(); s.write(frame); }
function done() { rtts.sort((a, b) => a - b); const p = (q) => rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))]; console.log(JSON.stringify({ p50Us: p(0.5), p99Us: p(0.99), maxUs: rtts[rtts.length - 1] })); s.destroy(); }
`;

interface TcpRunTiming {
  readonly tickRoundTripP50Us: number;
  readonly tickRoundTripP99Us: number;
  readonly replyP50Us: number;
  readonly replyP99Us: number;
  readonly tickOverruns: number;
}

export interface TcpLinkReport {
  readonly hosts: Hosts['kind'];
  readonly rateHz: number;
  readonly ticks: number;
  readonly echo: { readonly p50Us: number; readonly p99Us: number; readonly maxUs: number };
  readonly tmr: TcpRunTiming;
  readonly framesRefused: number;
  readonly unsafeCommands: number;
}

function collect(child: ReturnType<Hosts['spawnNode']>, timeoutMs: number, label: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${label}: no result within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2048)));
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 || code === 130) resolve(out);
      else reject(new Error(`${label}: exit ${code}: ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

export async function measureTcpLink(root: string, signal: AbortSignal): Promise<TcpLinkReport> {
  const cli = join(root, 'dist', 'bin', 'tmr.js');
  const dir = mkdtempSync(join(tmpdir(), 'tmr-bench-tcp-'));
  const hosts = makeHosts(['voter', 'ra', 'rb', 'rc']);
  const stop = (): void => void hosts.cleanup();
  signal.addEventListener('abort', stop, { once: true });
  try {
    const key = join(dir, 'bench.key');
    writeNewKeyFile(key);
    // The floor: a bare echo from the voter's namespace to a replica's, same rate, same size.
    const echoServer = hosts.spawnNode('ra', ['-e', ECHO_SERVER, hosts.address('ra')]);
    const echoAt = (await lineFrom(echoServer, /^listening on (\S+):(\d+)\n/m, 30_000))[2]!;
    const echoClient = hosts.spawnNode('voter', ['-e', ECHO_CLIENT, hosts.address('ra'), echoAt, String(ECHO_ROUND_TRIPS), String(1000 / RATE_HZ), String(ECHO_FRAME_BYTES)]);
    const echo = JSON.parse(await collect(echoClient, 120_000, 'tcp echo')) as TcpLinkReport['echo'];
    echoServer.kill('SIGTERM');

    const addresses: string[] = [];
    for (const host of ['ra', 'rb', 'rc']) {
      const server = hosts.spawnNode(host, [cli, 'replica', '--listen', `${hosts.address(host)}:0`, '--key-file', key]);
      addresses.push((await lineFrom(server, /^listening on (\S+)\n/m, 60_000))[1]!);
    }
    const run = hosts.spawnNode('voter', [cli, 'run', '--rate-hz', String(RATE_HZ), '--ticks', String(TICKS), ...addresses.flatMap((a) => ['--replica', `tcp:${a}`]), '--key-file', key, '--json']);
    const summary = JSON.parse(await collect(run, 180_000, 'tmr run over tcp')) as { timing: TcpRunTiming; unsafeCommands: number; links: { framesRefused: number }[] };
    return {
      hosts: hosts.kind,
      rateHz: RATE_HZ,
      ticks: TICKS,
      echo,
      tmr: summary.timing,
      framesRefused: summary.links.reduce((sum, l) => sum + l.framesRefused, 0),
      unsafeCommands: summary.unsafeCommands,
    };
  } finally {
    signal.removeEventListener('abort', stop);
    await hosts.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function tcpLinkRows(report: TcpLinkReport): ResultRow[] {
  const between = report.hosts === 'netns' ? 'between network namespaces over a veth bridge' : 'on loopback (no network namespaces here)';
  const section = `replicas over authenticated TCP ${between}: tmr run ${report.rateHz} Hz, ${report.ticks} ticks, 3 tcp replicas vs a bare TCP echo`;
  return [
    infoRow(section, 'tick round trip p50, tmr over TCP (floor: bare echo p50)', report.tmr.tickRoundTripP50Us, 'µs', report.echo.p50Us),
    infoRow(section, 'tick round trip p99, tmr over TCP (floor: bare echo p99)', report.tmr.tickRoundTripP99Us, 'µs', report.echo.p99Us),
    infoRow(section, 'reply p50 (floor: bare echo p50)', report.tmr.replyP50Us, 'µs', report.echo.p50Us),
    infoRow(section, 'reply p99 (floor: bare echo p99)', report.tmr.replyP99Us, 'µs', report.echo.p99Us),
    infoRow(section, 'frames refused (forged or replayed; floor 0)', report.framesRefused, 'frames', 0),
  ];
}
