/**
 * `tmr ports`: listPorts() with enumeration succeeding and failing every way it can (a rejection,
 * a synchronous throw, a hang, an uncaught throw from inside), device nodes read from a fake /dev,
 * and the compiled command as a user runs it (this machine may or may not have udev).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listPorts, type PortInfo } from '../../src/cli/ports.js';
import { assertFreshBuild, ROOT, runCli } from '../helpers/cli.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A directory standing in for /dev: ttyACM0, ttyUSB10, ttyUSB2, ttyS0 and a by-id link to ttyACM0. */
function fakeDev(): string {
  const dev = mkdtempSync(join(tmpdir(), 'tmr-fake-dev-'));
  directories.push(dev);
  for (const name of ['ttyACM0', 'ttyUSB10', 'ttyUSB2', 'ttyS0', 'null']) writeFileSync(join(dev, name), '');
  mkdirSync(join(dev, 'serial', 'by-id'), { recursive: true });
  symlinkSync('../../ttyACM0', join(dev, 'serial', 'by-id', 'usb-Arduino__www.arduino.cc__0043_75833353035351F0C0A1-if00'));
  return dev;
}

function emptyDev(): string {
  const dev = mkdtempSync(join(tmpdir(), 'tmr-empty-dev-'));
  directories.push(dev);
  return dev;
}

const spawnEnoent = (): Error => Object.assign(new Error('spawn udevadm ENOENT'), { code: 'ENOENT', syscall: 'spawn udevadm', path: 'udevadm' });

const lines = (text: string): string[] => text.trimEnd().split('\n');

describe('listPorts', () => {
  it('prints a table of what enumeration knows, "-" for what it does not', async () => {
    const ports: PortInfo[] = [
      { path: '/dev/ttyACM0', manufacturer: 'Arduino (www.arduino.cc)', serialNumber: '75833353035351F0C0A1', vendorId: '2341', productId: '0043', pnpId: 'usb-Arduino__www.arduino.cc__0043_75833353035351F0C0A1-if00' },
      { path: '/dev/ttyS0', manufacturer: undefined, serialNumber: undefined, vendorId: undefined, productId: undefined, pnpId: undefined },
    ];
    const text = await listPorts({ list: async () => ports, devDirectory: emptyDev() });
    expect(lines(text)).toEqual([
      'serial ports:',
      '  PATH          MANUFACTURER              SERIAL NUMBER         VID:PID    PNP ID',
      '  /dev/ttyACM0  Arduino (www.arduino.cc)  75833353035351F0C0A1  2341:0043  usb-Arduino__www.arduino.cc__0043_75833353035351F0C0A1-if00',
      '  /dev/ttyS0    -                         -                     -          -',
    ]);
  });

  it('adds device nodes that enumeration did not report', async () => {
    const dev = fakeDev();
    const text = await listPorts({ list: async () => [{ path: join(dev, 'ttyACM0') }], devDirectory: dev });
    const [title, header, row, ...rest] = lines(text);
    expect(title).toBe('serial ports:');
    expect(header).toMatch(/^ {2}PATH +MANUFACTURER {2}SERIAL NUMBER {2}VID:PID {2}PNP ID$/);
    expect(row).toBe(`  ${join(dev, 'ttyACM0')}  -             -              -        -`);
    expect(rest).toEqual([`also in ${dev}:`, `  ${join(dev, 'ttyUSB2')}`, `  ${join(dev, 'ttyUSB10')}`]);
    expect(text).not.toContain('ttyS0');
    // The by-id link points at a listed port, so it is not repeated.
    expect(text).not.toContain('by-id');
  });

  it('says "none found" when enumeration works and finds nothing', async () => {
    expect(await listPorts({ list: async () => [], devDirectory: emptyDev() })).toBe('serial ports: none found\n');
  });

  describe('enumeration fails: one line saying why, then the device nodes in /dev', () => {
    const failures: [string, () => Promise<readonly PortInfo[]>, RegExp][] = [
      ['rejects with spawn udevadm ENOENT', async () => Promise.reject(spawnEnoent()), /^serial ports cannot be listed here: udevadm is not installed \(spawn udevadm ENOENT\)$/],
      [
        'throws synchronously',
        () => {
          throw spawnEnoent();
        },
        /^serial ports cannot be listed here: udevadm is not installed \(spawn udevadm ENOENT\)$/,
      ],
      ['rejects with anything else', async () => Promise.reject(new Error('Error listing ports udevadm exited with error code: 1\nmore')), /^serial ports cannot be listed here: Error listing ports udevadm exited with error code: 1 more$/],
      ['never answers', () => new Promise<never>(() => {}), /^serial ports cannot be listed here: enumeration did not finish within 50 ms$/],
    ];
    for (const [what, list, firstLine] of failures) {
      it(`when it ${what}`, async () => {
        const dev = fakeDev();
        const text = await listPorts({ list, devDirectory: dev, listTimeoutMs: 50 });
        expect(lines(text)).toEqual([
          expect.stringMatching(firstLine),
          `device nodes in ${dev}:`,
          `  ${join(dev, 'ttyACM0')}`,
          `  ${join(dev, 'ttyUSB2')}`,
          `  ${join(dev, 'ttyUSB10')}`,
          `  ${join(dev, 'serial', 'by-id', 'usb-Arduino__www.arduino.cc__0043_75833353035351F0C0A1-if00')} -> ${join(dev, 'ttyACM0')}`,
        ]);
      });
    }

    it('and there are no device nodes either', async () => {
      const dev = emptyDev();
      expect(lines(await listPorts({ list: async () => Promise.reject(spawnEnoent()), devDirectory: dev }))).toEqual([
        'serial ports cannot be listed here: udevadm is not installed (spawn udevadm ENOENT)',
        `no ttyACM*, ttyUSB* or serial/by-id/* device nodes in ${dev}`,
      ]);
    });
  });
});

describe('tmr ports (compiled)', () => {
  beforeAll(() => assertFreshBuild());

  it('exits 0 and prints ports, or one line saying why they cannot be listed', async () => {
    const result = await runCli(['ports'], { timeoutMs: 30_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const first = lines(result.stdout)[0]!;
    expect(first).toMatch(/^serial ports(:| cannot be listed here: \S.*)/);
    if (first.includes('cannot be listed')) expect(result.stdout).toMatch(/^(no ttyACM|device nodes in \/dev:)/m);
  });

  it('takes no options', async () => {
    const result = await runCli(['ports', '--all'], { timeoutMs: 30_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("tmr: tmr ports takes no options, got '--all'\n");
  });

  it('survives an enumeration that throws uncaught from inside (udevadm spawned without a handler)', () => {
    // A separate process: vitest would report the uncaught exception as a test error by itself.
    const modulePath = pathToFileURL(join(ROOT, 'dist', 'src', 'cli', 'ports.js')).href;
    const script = `
      import { listPorts } from ${JSON.stringify(modulePath)};
      const list = () => {
        setTimeout(() => { throw Object.assign(new Error('spawn udevadm ENOENT'), { code: 'ENOENT' }); }, 5);
        return new Promise(() => {});
      };
      process.stdout.write(await listPorts({ list, devDirectory: ${JSON.stringify(emptyDev())} }));
      setTimeout(() => process.stdout.write('still alive\\n'), 20);
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(lines(result.stdout)[0]).toBe('serial ports cannot be listed here: udevadm is not installed (spawn udevadm ENOENT)');
    expect(result.stdout).toMatch(/still alive\n$/);
  });

  it('leaves other uncaught exceptions alone: the process still crashes on them', () => {
    const modulePath = pathToFileURL(join(ROOT, 'dist', 'src', 'cli', 'ports.js')).href;
    const script = `
      import { listPorts } from ${JSON.stringify(modulePath)};
      const list = () => {
        setTimeout(() => { throw new Error('an unrelated bug'); }, 5);
        return new Promise(() => {});
      };
      await listPorts({ list, devDirectory: ${JSON.stringify(emptyDev())}, listTimeoutMs: 2000 });
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('an unrelated bug');
  });
});
