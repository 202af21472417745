/**
 * Issue 17, items 6, 7, 8 (config and scenario files) and 9: settings mean what was typed or are
 * refused, an option a command does not use is an error naming the command, a file named as input
 * is a regular file of bounded size or a named error (never a hang), and a config file's JSON is
 * checked for depth and duplicate keys before it is parsed.
 *
 * The first part calls the option readers directly; the second runs the built CLI (each with a
 * timeout, so a read that blocks fails the test instead of hanging it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import firmwareSim from '../../firmware-sim/extension.js';
import { ExtensionRegistry, type ReplicaKindExtension, type TmrExtension } from '../../src/cli/extensions.js';
import { parseReplicaSpec, parseRunOptions, replicaFromConfig, UsageError } from '../../src/cli/options.js';
import { keyValues, parseSettingsJson } from '../../src/config/fields.js';
import testHooks from '../helpers/test-hooks-extension.js';
import { assertFreshBuild, runCli } from '../helpers/cli.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tmr-options-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A user's kind whose spec interprets nothing: whatever it is handed goes into the spec. */
const userKind = {
  kind: 'my-board',
  usage: 'my-board',
  help: { syntax: 'my-board[:OPTS]', lines: ['a board of mine'] },
  settings: [
    { key: 'fast', field: 'fast', type: 'boolean' },
    { key: 'gain', field: 'gain', type: 'decimal', min: -1, max: 1 },
    { key: 'count', field: 'count', type: 'whole', min: 0, max: 10 },
    { key: 'mode', field: 'mode', type: 'text', choices: ['a', 'b'] },
  ],
  spec: (settings: Readonly<Record<string, unknown>>) => ({ kind: 'my-board', ...settings }),
} as unknown as ReplicaKindExtension;
const userExtension: TmrExtension = { name: 'mine', replicaKinds: [userKind] };

function registry(): ExtensionRegistry {
  return new ExtensionRegistry().register(firmwareSim).register(testHooks).register(userExtension);
}
const fromFlag = (text: string): unknown => parseReplicaSpec(text, '--replica', registry());
const fromFile = (value: unknown): unknown => replicaFromConfig(value, 'run.json: replicas[0]', registry());

/** The message of the UsageError `fn` throws (it must throw one). */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('item 6: replica settings mean what was typed, for every kind', () => {
  it('false, 0, true and 1 are booleans and mean what they say (the issue\'s commands)', () => {
    expect(fromFlag('avr-sim:hooks=false')).toEqual({ kind: 'avr-sim', testHooks: false });
    expect(fromFlag('avr-sim:hooks=0')).toEqual({ kind: 'avr-sim', testHooks: false });
    expect(fromFlag('avr-sim:hooks=true')).toEqual({ kind: 'avr-sim', testHooks: true });
    expect(fromFlag('sim-board:boot-noise=false')).toEqual({ kind: 'sim-board', bootNoise: false });
    expect(fromFlag('node-test:corrupt-state=false')).toEqual({ kind: 'node', args: [] });
    expect(fromFlag('node-test:corrupt-state=1')).toEqual({ kind: 'node', args: ['--corrupt-state-transfer'] });
    expect(refusal(() => fromFlag('avr-sim:hooks=off'))).toBe("--replica 'avr-sim:hooks=off': hooks must be true, false, 1 or 0, got 'off'");
    expect(refusal(() => fromFlag('node:corrupt-state=false'))).toMatch(/'corrupt-state' is not a setting \(it takes none\)$/);
  });

  it('a number is a plain decimal: no empty value, no hex, no second =, no key twice', () => {
    expect(fromFlag('sim-board:ber=0.001')).toEqual({ kind: 'sim-board', bitErrorRate: 0.001 });
    expect(refusal(() => fromFlag('sim-board:ber='))).toBe("--replica 'sim-board:ber=': ber has no value");
    expect(refusal(() => fromFlag('sim-board:ber=0x0'))).toBe("--replica 'sim-board:ber=0x0': ber must be a number from 0 to 0.1, got '0x0'");
    expect(refusal(() => fromFlag('sim-board:ber=0.001=junk'))).toBe("--replica 'sim-board:ber=0.001=junk': 'ber=0.001=junk' has more than one '=' (settings are KEY=VALUE, separated by commas)");
    expect(refusal(() => fromFlag('sim-board:ber=0.001,ber=0.002'))).toBe("--replica 'sim-board:ber=0.001,ber=0.002': ber is given twice");
    expect(refusal(() => fromFlag('sim-board:ber'))).toBe("--replica 'sim-board:ber': ber has no value");
  });

  it('a user\'s kind is handed typed values from a flag and from a file, without reading them itself', () => {
    const typed = { kind: 'my-board', fast: false, gain: -0.5, count: 3, mode: 'b' };
    expect(fromFlag('my-board:fast=false,gain=-0.5,count=3,mode=b')).toEqual(typed);
    expect(fromFile({ kind: 'my-board', fast: false, gain: -0.5, count: 3, mode: 'b' })).toEqual(typed);
    expect(refusal(() => fromFlag('my-board:fast=off'))).toBe("--replica 'my-board:fast=off': fast must be true, false, 1 or 0, got 'off'");
    expect(refusal(() => fromFlag('my-board:gain=0x0'))).toBe("--replica 'my-board:gain=0x0': gain must be a number from -1 to 1, got '0x0'");
    expect(refusal(() => fromFlag('my-board:count=1.5'))).toBe("--replica 'my-board:count=1.5': count must be a whole number, got '1.5'");
    expect(refusal(() => fromFlag('my-board:mode=c'))).toBe("--replica 'my-board:mode=c': mode must be one of a, b, got 'c'");
    expect(refusal(() => fromFile({ kind: 'my-board', fast: 'false' }))).toBe("run.json: replicas[0].fast must be true or false, got 'false'");
    expect(refusal(() => fromFile({ kind: 'my-board', count: '3' }))).toBe("run.json: replicas[0].count must be a whole number (a number, not a string), got '3'");
    expect(refusal(() => fromFile({ kind: 'my-board', gain: '0.5' }))).toBe("run.json: replicas[0].gain must be a number from -1 to 1 (a number, not a string), got '0.5'");
    expect(refusal(() => fromFile({ kind: 'my-board', mode: 1 }))).toBe('run.json: replicas[0].mode must be one of a, b, got 1');
  });

  it('a kind must say what type each setting is, or it is refused when registered', () => {
    const untyped = { ...userKind, kind: 'untyped', settings: [{ key: 'x', field: 'x' }] } as unknown as ReplicaKindExtension;
    expect(refusal(() => new ExtensionRegistry().register({ name: 'u', replicaKinds: [untyped] }))).toMatch(
      /replicaKinds\[0\] \(untyped\)\.settings\[0\] \(x\): type must be boolean, whole, decimal or text/,
    );
  });

  it('every boolean and number setting of every kind refuses what is not one, from a flag and from a file', () => {
    const kinds = registry().replicaKinds.filter((k) => k.readText === undefined);
    let checked = 0;
    for (const kind of kinds) {
      for (const setting of kind.settings) {
        const flag = (value: string): unknown => fromFlag(`${kind.kind}:${setting.key}=${value}`);
        const file = (value: unknown): unknown => fromFile({ kind: kind.kind, [setting.field]: value });
        if (setting.type === 'boolean') {
          expect(flag('false')).toEqual(flag('0'));
          expect(flag('true')).toEqual(flag('1'));
          expect(flag('true')).not.toEqual(flag('false'));
          expect(file(false)).toEqual(flag('false'));
          expect(file(true)).toEqual(flag('true'));
          for (const bad of ['off', 'on', 'no', 'yes', 'FALSE', 'True', '00', '2', ' 1']) refusal(() => flag(bad));
          for (const bad of ['false', 'true', 0, 1, null]) refusal(() => file(bad));
          checked++;
        } else if (setting.type === 'whole' || setting.type === 'decimal') {
          for (const bad of ['0x0', '0x10', '1=2', ' 1', '1 ', 'NaN', 'Infinity', '1e', '--1', '+1', '0b1', '1_000']) refusal(() => flag(bad));
          for (const bad of ['0', '1', true, null, [1]]) refusal(() => file(bad));
          checked++;
        }
      }
    }
    // Not vacuous: sim-board's boot-noise, ber, law-hash…, avr-sim's hooks and baud, node-test's two, my-board's three.
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it('a config file\'s replica values are typed: a JSON boolean is a boolean, a JSON number a number', () => {
    expect(fromFile({ kind: 'sim-board', bootNoise: false })).toEqual({ kind: 'sim-board', bootNoise: false });
    expect(refusal(() => fromFile({ kind: 'sim-board', bootNoise: 'false' }))).toBe("run.json: replicas[0].bootNoise must be true or false, got 'false'");
    expect(refusal(() => fromFile({ kind: 'avr-sim', testHooks: 0 }))).toBe('run.json: replicas[0].testHooks must be true or false, got 0');
    expect(refusal(() => fromFile({ kind: 'sim-board', bitErrorRate: '0.001' }))).toBe("run.json: replicas[0].bitErrorRate must be a number from 0 to 0.1 (a number, not a string), got '0.001'");
    expect(refusal(() => fromFile({ kind: 'node-test', corruptState: 'false' }))).toBe("run.json: replicas[0].corruptState must be true or false, got 'false'");
  });
});

describe('keyValues: KEY=VALUE settings', () => {
  const keys = ['a', 'b'];
  it.each([
    ['a=1=2', "x: 'a=1=2' has more than one '=' (settings are KEY=VALUE, separated by commas)"],
    ['a=', 'x: a has no value'],
    ['a', 'x: a has no value'],
    ['a=1,a=2', 'x: a is given twice'],
    ['a=1,', 'x: an empty setting between commas'],
    [',a=1', 'x: an empty setting between commas'],
    ['c=1', "x: 'c=1' is not one of a=VALUE, b=VALUE"],
    ['=1', "x: '=1' is not one of a=VALUE, b=VALUE"],
  ])('%j is refused', (text, message) => {
    expect(refusal(() => keyValues(text, keys, 'x'))).toBe(message);
  });
  it('reads each key once', () => {
    expect(keyValues('a=1,b=x y', keys, 'x')).toEqual({ a: '1', b: 'x y' });
    expect(keyValues(undefined, keys, 'x')).toEqual({});
  });
});

describe('item 9: JSON nesting and duplicate keys are refused before parsing, naming the file and where', () => {
  it('names the path and the line of a value nested too deep, without overflowing the stack', () => {
    const deep = `{\n  "recovery": {\n    "x": ${'['.repeat(20)}1${']'.repeat(20)}\n  }\n}`;
    expect(refusal(() => parseSettingsJson(deep, 'run.json'))).toMatch(/^run\.json: recovery\.x(\[0\]){14} is nested deeper than 16 levels \(line 3, column \d+\)$/);
    // Deep enough to overflow JSON.parse's recursion if it were ever reached.
    const deeper = `{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    expect(refusal(() => parseSettingsJson(deeper, 'run.json'))).toMatch(/^run\.json: a(\[0\]){15} is nested deeper than 16 levels \(line 1, column \d+\)$/);
  });

  it('refuses a key given twice in the same object, naming it and where', () => {
    expect(refusal(() => parseSettingsJson('{"ticks": 5,\n "ticks": 7}', 'run.json'))).toBe('run.json: ticks is given twice (line 2, column 2)');
    expect(refusal(() => parseSettingsJson('{"replicas": ["node", {"kind": "sim-board", "bootNoise": false, "bootNoise": true}]}', 'run.json'))).toMatch(
      /^run\.json: replicas\[1\]\.bootNoise is given twice \(line 1, column \d+\)$/,
    );
    // The same key written two ways is the same key.
    expect(refusal(() => parseSettingsJson('{"seed": 1, "s\\u0065ed": 2}', 'run.json'))).toMatch(/^run\.json: seed is given twice/);
  });

  it('accepts the same key in different objects, and brackets and quotes inside strings', () => {
    expect(parseSettingsJson('[{"a": 1}, {"a": 2}]', 'f')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseSettingsJson('{"a": "[{\\"", "b": "]]}", "c": {"a": 1}}', 'f')).toEqual({ a: '[{"', b: ']]}', c: { a: 1 } });
    expect(parseSettingsJson(`${'['.repeat(16)}${']'.repeat(16)}`, 'f')).toBeInstanceOf(Array);
  });

  it('refuses numbers and booleans written as strings in every field of a config file', () => {
    const dir = tempDir();
    const cases: [Record<string, unknown>, 'run' | 'sim', RegExp][] = [
      [{ ticks: '20' }, 'sim', /: ticks must be a whole number \(a number, not a string\), got '20'$/],
      [{ rateHz: '50' }, 'sim', /: rateHz must be a whole number \(a number, not a string\), got '50'$/],
      [{ seed: '1' }, 'sim', /: seed must be a whole number \(a number, not a string\), got '1'$/],
      [{ commonModeLimitMs: '0' }, 'sim', /: commonModeLimitMs must be a whole number \(a number, not a string\)/],
      [{ replicaCount: '5' }, 'sim', /: replicaCount must be a whole number \(a number, not a string\)/],
      [{ deadlineUs: '500' }, 'run', /: deadlineUs must be a whole number \(a number, not a string\)/],
      [{ quorumGraceUs: '0' }, 'run', /: quorumGraceUs must be a whole number \(a number, not a string\)/],
      [{ recovery: { probationTicks: '5' } }, 'sim', /: recovery\.probationTicks must be a whole number \(a number, not a string\)/],
      [{ recovery: { coldRestart: 'true' } }, 'sim', /: recovery\.coldRestart must be true or false, got 'true'$/],
      [{ recovery: 'true' }, 'sim', /: recovery must be true, false or an object/],
      [{ replicas: [{ kind: 'serial', path: '/dev/ttyACM0', baudRate: '115200' }, 'node', 'node'] }, 'run', /replicas\[0\]\.baudRate must be a whole number \(a number, not a string\)/],
    ];
    for (const [content, mode, pattern] of cases) {
      const file = join(dir, 'run.json');
      writeFileSync(file, JSON.stringify(content));
      const message = refusal(() => parseRunOptions(['--config', file], mode, registry()));
      expect(message.startsWith(file), message).toBe(true);
      expect(message).toMatch(pattern);
    }
  });
});

describe('item 7: run and sim use the options and config keys their table gives them', () => {
  it('tmr sim counts replicas from replicaCount, and refuses replicas (their kinds are for tmr run)', () => {
    const dir = tempDir();
    const file = join(dir, 'run.json');
    writeFileSync(file, JSON.stringify({ replicaCount: 5, ticks: 10 }));
    expect(parseRunOptions(['--config', file], 'sim', registry()).replicaCount).toBe(5);
    writeFileSync(file, JSON.stringify({ replicas: ['node', 'node', 'node'] }));
    expect(refusal(() => parseRunOptions(['--config', file], 'sim', registry()))).toBe(
      `${file}: tmr sim does not use replicas (tmr run only: the simulator runs its replicas in-process; their number is --replicas, or replicaCount in a file)`,
    );
    writeFileSync(file, JSON.stringify({ replicaCount: 5, replicas: ['node', 'node', 'node'] }));
    expect(refusal(() => parseRunOptions(['--config', file], 'run', registry()))).toBe(`${file}: replicaCount says 5 but 3 replicas are described`);
  });

  it('an option with no config key may be given beside --config, if the command uses it', () => {
    const dir = tempDir();
    const file = join(dir, 'run.json');
    writeFileSync(file, JSON.stringify({ ticks: 10 }));
    expect(parseRunOptions(['--config', file, '--trace', join(dir, 't')], 'sim', registry()).traceFile).toBe(join(dir, 't'));
    expect(refusal(() => parseRunOptions(['--config', file, '--trace', join(dir, 't')], 'run', registry()))).toMatch(/^tmr run does not take --trace /);
    expect(refusal(() => parseRunOptions(['--config', file, '--seed', '3'], 'sim', registry()))).toBe('--config cannot be combined with --seed (put seed in the file)');
  });
});

describe('the CLI', () => {
  beforeAll(() => assertFreshBuild());

  const oneLine = (result: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): void => {
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n'), result.stderr).toEqual([expect.stringMatching(pattern)]);
  };

  describe('item 7: an option a command does not use is one line naming the command, exit 2', () => {
    it.each([
      [['sim', '--replica', 'node'], /^tmr: tmr sim does not take --replica \(tmr run only: /],
      [['sim', '--deadline-us', '500'], /^tmr: tmr sim does not take --deadline-us \(tmr run only: the simulator has no wall clock\)$/],
      [['sim', '--quorum-grace-us', '0'], /^tmr: tmr sim does not take --quorum-grace-us \(tmr run only: /],
      [['sim', '--kill-after-ms', '5'], /^tmr: tmr sim does not take --kill-after-ms \(tmr run only: /],
      [['sim', '--actuator', 'firmata:/dev/null'], /^tmr: tmr sim does not take --actuator \(tmr run only: /],
      [['run', '--trace', 'x.trace'], /^tmr: tmr run does not take --trace \(tmr sim only: /],
      [['demo', '--ticks', '5'], /^tmr: tmr demo does not take --ticks \(it takes --law\)$/],
      [['demo', '--law', 'tank', '--seed', '5'], /^tmr: tmr demo does not take --seed \(it takes --law\)$/],
      [['campaign', '--seeds', '2', '--trace', '-'], /^tmr: tmr campaign --seeds does not take --trace \(tmr campaign --seed only: /],
      [['campaign', '--seed', '2', '--workers', '1'], /^tmr: tmr campaign --seed does not take --workers \(tmr campaign --seeds only: /],
      [['campaign', '--seed', '2', '--from', '1'], /^tmr: tmr campaign --seed does not take --from \(tmr campaign --seeds only: /],
      [['law', 'info', 'tank', '--steps', '5'], /^tmr: tmr law info does not take --steps \(tmr law check, tmr law vectors only\)$/],
      [['law', 'vectors', 'tank', '--out', '/dev/null', '--json'], /^tmr: tmr law vectors does not take --json \(tmr law info, tmr law check only\)$/],
    ])('tmr %j', async (args, pattern) => {
      oneLine(await runCli(args, { timeoutMs: 20_000 }), pattern);
    });

    it('a config key tmr sim does not use is refused, naming the file, the key and the command', async () => {
      const file = join(tempDir(), 'run.json');
      writeFileSync(file, JSON.stringify({ replicas: ['sim-board', 'node', 'node'], ticks: 10 }));
      oneLine(await runCli(['sim', '--config', file], { timeoutMs: 20_000 }), /: tmr sim does not use replicas \(tmr run only: /);
      writeFileSync(file, JSON.stringify({ deadlineUs: 500 }));
      oneLine(await runCli(['sim', '--config', file], { timeoutMs: 20_000 }), /: tmr sim does not use deadlineUs \(tmr run only: the simulator has no wall clock\)$/);
    });

    it('tmr hil --firmata with no scenario on the motor plant is refused before anything runs', async () => {
      const out = tempDir();
      oneLine(
        await runCli(['hil', 'test/fixtures/hil/tank-small.json', '--firmata', '/dev/null', '--out', out], { timeoutMs: 20_000 }),
        /^tmr: --firmata drives the motor plant's servo; no scenario given runs it \(tank-small: plant tank\)$/,
      );
    });
  });

  describe('item 8: a config or scenario file that is not a regular file is one line, never a hang', () => {
    let fifo = '';
    beforeAll(() => {
      fifo = join(tempDir(), 'fifo');
      execFileSync('mkfifo', [fifo]);
    });

    it.each([
      ['/dev/zero', /^tmr: --config \/dev\/zero: a character device, not a regular file$/],
      ['FIFO', /^tmr: --config .*fifo: a FIFO, not a regular file$/],
      ['/tmp', /^tmr: --config \/tmp: a directory, not a regular file$/],
      ['/nonexistent/run.json', /^tmr: --config \/nonexistent\/run\.json: no such file \(ENOENT\)$/],
    ])('tmr sim --config %s', async (path, pattern) => {
      oneLine(await runCli(['sim', '--config', path === 'FIFO' ? fifo : path], { timeoutMs: 15_000 }), pattern);
    });

    it('an extension module named by TMR_EXTENSIONS that is a FIFO is refused, not imported (which would hang)', async () => {
      const module = join(tempDir(), 'kinds.mjs');
      execFileSync('mkfifo', [module]);
      oneLine(await runCli(['sim', '--ticks', '10'], { timeoutMs: 15_000, env: { TMR_EXTENSIONS: module } }), /^tmr: TMR_EXTENSIONS: .*kinds\.mjs: not a regular file$/);
    });

    it('a plant or law module that is a FIFO is refused, not imported (which would hang)', async () => {
      const plant = join(tempDir(), 'plant.ts');
      execFileSync('mkfifo', [plant]);
      oneLine(await runCli(['sim', '--ticks', '10', '--plant', plant], { timeoutMs: 15_000 }), /^tmr: --plant .*plant\.ts: not a regular file \(.*\)$/);
      const law = join(tempDir(), 'law.ts');
      execFileSync('mkfifo', [law]);
      oneLine(await runCli(['sim', '--ticks', '10', '--law', law], { timeoutMs: 15_000 }), /^tmr: --law .*law\.ts: not a regular file \(.*\)$/);
    });

    it('a config file larger than the limit is refused by its size, not read', async () => {
      const file = join(tempDir(), 'big.json');
      writeFileSync(file, '');
      truncateSync(file, 512 * 1024 * 1024); // sparse: no disk, and reading it would take 512 MB
      oneLine(await runCli(['sim', '--config', file], { timeoutMs: 15_000 }), /^tmr: --config .*big\.json: 536870912 bytes, more than the 65536 allowed$/);
    });

    it.each([
      ['/dev/zero', /^tmr: scenario \/dev\/zero: a character device, not a regular file$/],
      ['FIFO', /^tmr: scenario .*fifo: a FIFO, not a regular file$/],
    ])('tmr hil %s', async (path, pattern) => {
      oneLine(await runCli(['hil', path === 'FIFO' ? fifo : path, '--out', tempDir()], { timeoutMs: 15_000 }), pattern);
    });

    it('tmr hil names a scenario file nested too deep, without overflowing the stack', async () => {
      const file = join(tempDir(), 'deep.json');
      writeFileSync(file, `{"name": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
      oneLine(await runCli(['hil', file, '--out', tempDir()], { timeoutMs: 15_000 }), /deep\.json: name(\[0\]){15} is nested deeper than 16 levels \(line 1, column \d+\)$/);
    });
  });
});
