/**
 * The command line of replicas on other hosts: `tmr key`, `tmr replica`, `--replica tcp:` and
 * `--key-file`. Bad input is one line naming what is wrong, exit 2, before anything starts; a
 * port that cannot be listened on is one line, exit 1.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertFreshBuild, runCli } from '../helpers/cli.js';

let dir: string;
let key: string;

beforeAll(async () => {
  assertFreshBuild();
  dir = mkdtempSync(join(tmpdir(), 'tmr-tcp-cli-'));
  key = join(dir, 'good.key');
  const made = await runCli(['key', key]);
  expect(made.code, made.stderr).toBe(0);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refused(args: string[], pattern: RegExp, code = 2): Promise<void> {
  const result = await runCli(args, { timeoutMs: 30_000 });
  expect(result.code, `tmr ${args.join(' ')}: ${result.stderr}`).toBe(code);
  expect(result.stderr).toMatch(/^tmr: [^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
  expect(result.stdout).toBe('');
}

describe('tmr key', () => {
  it('writes a fresh key, readable by its owner alone, and prints its id, never the key', async () => {
    const text = readFileSync(key, 'utf8');
    expect(text).toMatch(/^[0-9a-f]{64}\n$/);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const again = join(dir, 'another.key');
    const result = await runCli(['key', again]);
    expect(result.stdout).toMatch(/key id [0-9a-f]{16}/);
    expect(result.stdout).not.toContain(readFileSync(again, 'utf8').trim().slice(0, 16));
    expect(readFileSync(again, 'utf8')).not.toBe(text);
  });

  it('never overwrites a key file, and takes one path', async () => {
    await refused(['key', key], /already exists; tmr key never overwrites a key file/);
    await refused(['key'], /tmr key takes one FILE/);
  });
});

describe('--replica tcp: and --key-file', () => {
  const others = ['--replica', 'node', '--replica', 'node'];

  it('a tcp replica without a key is refused before anything starts', async () => {
    await refused(['run', '--replica', 'tcp:127.0.0.1:7001', ...others], /replica 0 \(tcp:127\.0\.0\.1:7001\) needs a key: --key-file FILE/);
  });

  it('a key file others may read, one that is not a key, or one too short is refused, naming it', async () => {
    const open = join(dir, 'open.key');
    writeFileSync(open, readFileSync(key));
    chmodSync(open, 0o644);
    await refused(['run', '--replica', 'tcp:127.0.0.1:7001', ...others, '--key-file', open], /--key-file .*open\.key: readable or writable by others \(mode 0644\).*chmod 600/);
    const notHex = join(dir, 'text.key');
    writeFileSync(notHex, 'correct horse battery staple\n', { mode: 0o600 });
    await refused(['run', '--replica', 'tcp:127.0.0.1:7001', ...others, '--key-file', notHex], /text\.key: not a key \(expected 64 to 512 hexadecimal digits/);
    const short = join(dir, 'short.key');
    writeFileSync(short, 'ab'.repeat(16), { mode: 0o600 });
    await refused(['run', '--replica', 'tcp:127.0.0.1:7001', ...others, '--key-file', short], /short\.key: a key of 16 bytes; it must have 32 to 256/);
    await refused(['run', '--replica', 'tcp:127.0.0.1:7001', ...others, '--key-file', join(dir, 'missing.key')], /missing\.key: no such file/);
  });

  it('--key-file with no tcp replica, and in tmr sim, is refused', async () => {
    await refused(['run', '--key-file', key], /--key-file is the key of tcp replicas, and none is given/);
    await refused(['sim', '--key-file', key], /tmr sim does not take --key-file \(tmr run only/);
  });

  it('an address that is not HOST:PORT, or a port out of range, is refused', async () => {
    await refused(['run', '--replica', 'tcp:nohost', ...others, '--key-file', key], /'nohost' is not HOST:PORT/);
    await refused(['run', '--replica', 'tcp:10.0.0.2:70000', ...others, '--key-file', key], /the port must be 1\.\.65535, got 70000/);
    await refused(['run', '--replica', 'tcp:', ...others, '--key-file', key], /is not HOST:PORT/);
  });

  it('a config file names a tcp replica by host and port, its key its own or the run\'s', async () => {
    const config = join(dir, 'run.json');
    writeFileSync(config, JSON.stringify({ replicas: [{ kind: 'tcp', host: '127.0.0.1', port: 7001 }, { kind: 'node' }, { kind: 'node' }] }));
    await refused(['run', '--config', config], /replica 0 \(tcp:127\.0\.0\.1:7001\) needs a key/);
    writeFileSync(config, JSON.stringify({ replicas: [{ kind: 'tcp', host: '127.0.0.1', port: '7001', keyFile: key }, { kind: 'node' }, { kind: 'node' }] }));
    await refused(['run', '--config', config], /replicas\[0\]\.port/);
  });
});

describe('tmr replica', () => {
  it('refuses to start without --listen or --key-file, or with a bad address, in one line', async () => {
    await refused(['replica', '--key-file', key], /tmr replica needs --listen HOST:PORT/);
    await refused(['replica', '--listen', '127.0.0.1:0'], /tmr replica needs --key-file FILE/);
    await refused(['replica', '--listen', 'localhost', '--key-file', key], /--listen: 'localhost' is not HOST:PORT/);
    await refused(['replica', '--listen', '127.0.0.1:0', '--key-file', key, '--law', 'no-such-law'], /--law: /);
    await refused(['replica', '--listen', '127.0.0.1:0', '--key-file', key, '--bogus'], /tmr replica: Unknown option '--bogus'/);
  });

  it('tmr actuator and tmr voter refuse what they cannot use, in one line, before anything starts', async () => {
    await refused(['actuator', '--key-file', key], /tmr actuator needs --listen HOST:PORT/);
    await refused(['actuator', '--listen', '127.0.0.1:0'], /tmr actuator needs --key-file FILE/);
    await refused(['actuator', '--listen', '127.0.0.1:0', '--key-file', key, '--silent-ticks', '0'], /--silent-ticks 0: a whole number 1\.\.1000/);
    await refused(['actuator', '--listen', '127.0.0.1:0', '--key-file', key, '--silent-ticks', '9', '--watchdog-ticks', '5'], /--watchdog-ticks 5: a whole number 9\.\./);
    // Real I/O behind the actuator: the map is read and checked against the law before any board is opened.
    await refused(['actuator', '--listen', '127.0.0.1:0', '--key-file', key, '--io-map', 'motor-io.json'], /--io-map needs --io/);
    await refused(['actuator', '--listen', '127.0.0.1:0', '--key-file', key, '--io', 'bogus'], /--io 'bogus': expected firmata:PATH\[@BAUD\] or firmata-sim/);
    await refused(['actuator', '--listen', '127.0.0.1:0', '--key-file', key, '--io', 'firmata-sim', '--io-map', '/nonexistent/motor-io.json'], /--io-map \/nonexistent\/motor-io\.json: no such file/);
    const badMap = join(dir, 'no-heartbeat-io.json');
    writeFileSync(badMap, JSON.stringify({ samplingIntervalMs: 10 }));
    await refused(['actuator', '--listen', '127.0.0.1:0', '--key-file', key, '--io', 'firmata-sim', '--io-map', badMap], new RegExp(`${badMap.replace(/[.]/g, '\\.')}:\\.heartbeatPin is missing`));
    const replicas = ['--replica', '127.0.0.1:7001', '--replica', '127.0.0.1:7002', '--replica', '127.0.0.1:7003'];
    await refused(['voter', '--actuator', '127.0.0.1:7100', '--replica', '127.0.0.1:7001', '--key-file', key, '--etcd', 'http://127.0.0.1:2379', '--set', 'a'], /--replica HOST:PORT once per replica, 3, 5 or 7 of them; got 1/);
    await refused(['voter', '--actuator', '127.0.0.1:7100', ...replicas, '--key-file', key, '--set', 'a'], /tmr voter needs --etcd URL/);
    await refused(['voter', '--actuator', '127.0.0.1:7100', ...replicas, '--key-file', key, '--etcd', '127.0.0.1:2379', '--set', 'a'], /--etcd: '127\.0\.0\.1:2379' is not http:\/\/HOST:PORT/);
    await refused(['voter', ...replicas, '--key-file', key, '--etcd', 'http://127.0.0.1:2379', '--set', 'a'], /tmr voter needs --actuator HOST:PORT/);
  });

  it('a port in use is one line naming it, exit 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await refused(['replica', '--listen', `127.0.0.1:${port}`, '--key-file', key], new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE: the port is in use`), 1);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('tmr help names the tcp kind, --key-file, tmr replica, tmr key, tmr actuator and tmr voter', async () => {
    const help = (await runCli(['help'])).stdout;
    for (const text of ['tcp:HOST:PORT', '--key-file FILE', 'tmr replica --listen HOST:PORT', 'tmr key FILE', 'tmr actuator --listen HOST:PORT', 'tmr voter --actuator HOST:PORT']) expect(help).toContain(text);
  });
});
