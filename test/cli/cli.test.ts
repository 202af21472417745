import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/loop/loop-model.js';
import { assertFreshBuild, runCli, TEST_HOOKS_ENV } from '../helpers/cli.js';

beforeAll(() => assertFreshBuild());

describe('bad input: one line naming the problem, exit code 2, never a stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['sim', '--bogus'], /unknown option '--bogus'/i],
    [['run', '--replicas', '4'], /--replicas must be odd and at least 3/],
    [['sim', '--replicas', '1'], /--replicas must be odd and at least 3/],
    [['sim', '--replicas', '2'], /--replicas must be odd/],
    [['sim', '--replicas', '17'], /--replicas must be between 0 and 15/],
    [['sim', '--replicas', 'three'], /--replicas must be a whole number, got 'three'/],
    [['sim', '--rate-hz', '0'], /--rate-hz must be between 1 and 2000, got 0/],
    [['run', '--rate-hz', '5000'], /--rate-hz must be between 1 and 2000, got 5000/],
    [['sim', '--rate-hz', '1.5'], /--rate-hz must be a whole number/],
    [['sim', '--ticks', '0'], /--ticks must be between 1 and/],
    [['run', '--ticks', '99999999999'], /--ticks must be between 1 and 10000000/],
    [['sim', '--seed=-1'], /--seed must be between 0 and 4294967295, got -1/],
    [['sim', '--seed', '-1'], /--seed needs a value; for a value that starts with '-', write --seed=VALUE/],
    [['sim', '--ticks'], /--ticks needs a value$/],
    [['sim', '--inject', 'crash'], /--inject 'crash' is not KIND:REPLICA@TICK\[\+TICKS\]/],
    [['sim', '--inject', 'explode:1@5'], /unknown fault kind 'explode' \(one of crash, hang, wrong, stuck, late, babble, state, bitflip; or stall@TICK\+TICKS\)/],
    [['sim', '--inject', 'crash:3@5'], /replica 3 does not exist \(replicas are 0\.\.2\)/],
    [['sim', '--inject', 'crash:1@5000', '--ticks', '100'], /tick 5000 is past the end of the run \(100 ticks\)/],
    [['sim', '--inject', 'crash:1@5+10'], /a crash fault takes no \+TICKS duration/],
    [['sim', '--inject', 'wrong:1@5+0'], /duration must be between 1 and/],
    [['sim', '--cold-restart'], /--cold-restart needs --recover/],
    [['sim', '--inject', 'stall@5'], /--inject 'stall@5' is not stall@TICK\+TICKS \(every replica stopped at once/],
    [['sim', '--inject', 'stall:1@5+3'], /--inject 'stall:1@5\+3' is not stall@TICK\+TICKS/],
    [['sim', '--inject', 'stall@5+0'], /--inject 'stall@5\+0': duration must be between 1 and/],
    [['sim', '--inject', 'stall@10+20', '--inject', 'stall@25+5'], /--inject: stall@25 starts before stall@10\+20 ends \(stalls may not overlap\)/],
    [['sim', '--common-mode-limit-ms', '600001'], /--common-mode-limit-ms must be between 0 and 600000, got 600001/],
    [['sim', '--common-mode-limit-ms', '2s'], /--common-mode-limit-ms must be a whole number, got '2s'/],
    [['sim', '--simplex-policy', 'maybe'], /--simplex-policy must be 'safe' or 'simplex', got 'maybe'/],
    [['sim', '--deadline-us', '500'], /tmr sim does not take --deadline-us \(tmr run only: the simulator has no wall clock\)/],
    [['run', '--rate-hz', '1000', '--deadline-us', '1000'], /--deadline-us must be between 100 and 999/],
    [['sim', '--quorum-grace-us', '0'], /tmr sim does not take --quorum-grace-us \(tmr run only/],
    [['run', '--rate-hz', '200', '--quorum-grace-us', '20001'], /--quorum-grace-us must be between 0 and 20000, got 20001/],
    [['run', '--quorum-grace-us=-5'], /--quorum-grace-us must be between 0 and 20000, got -5/],
    // Replica options mean what they say or are refused (hardening issue, item 6).
    [['run', '--replica', 'avr-sim:hooks=maybe', '--replica', 'node', '--replica', 'node'], /--replica 'avr-sim:hooks=maybe': hooks must be true, false, 1 or 0, got 'maybe'$/],
    // The Node replica's test hooks are not in the product's grammar (test/helpers/test-hooks-extension.ts has them).
    [['run', '--replica', 'node:crash-after-state=1', '--replica', 'node', '--replica', 'node'], /--replica 'node:crash-after-state=1': 'crash-after-state' is not a setting \(it takes none\)$/],
    [['run', '--replica', 'node-test:corrupt-state=1', '--replica', 'node', '--replica', 'node'], /--replica 'node-test:corrupt-state=1': unknown replica kind \(one of node, sim-board, avr-sim, serial:PATH@BAUD, tcp:HOST:PORT\)$/],
    [['run', '--replica', 'sim-board:ber=', '--replica', 'node', '--replica', 'node'], /--replica 'sim-board:ber=': ber has no value$/],
    [['run', '--replica', 'sim-board:ber=0x0', '--replica', 'node', '--replica', 'node'], /: ber must be a number from 0 to 0\.1, got '0x0'$/],
    [['run', '--replica', 'sim-board:ber=0.001=junk', '--replica', 'node', '--replica', 'node'], /'ber=0\.001=junk' has more than one '=' \(settings are KEY=VALUE, separated by commas\)$/],
    [['run', '--replica', 'sim-board:boot-noise=0,boot-noise=1', '--replica', 'node', '--replica', 'node'], /boot-noise is given twice$/],
    [['run', '--replica', 'sim-board:,ber=0', '--replica', 'node', '--replica', 'node'], /an empty setting between commas$/],
    // An option a command does not use is an error (item 7).
    [['sim', '--replica', 'node'], /tmr sim does not take --replica \(tmr run only: the simulator runs its replicas in-process/],
    [['run', '--trace', 'x.trace'], /tmr run does not take --trace \(tmr sim only: tmr run writes the black-box log: --log FILE\)$/],
    [['sim', '--law', 'no-such-law'], /--law no-such-law: neither a shipped law \(pid-q16, tank\) nor a \.js or \.ts file$/],
    [['sim', '--law', 'tank', '--plant', 'motor'], /plant 'motor' supplies inputs setpointMilliDeg, positionMilliDeg; law 'tank' takes levelSetpointMm, levelMm, highSwitch$/],
    [['sim', 'extra'], /unexpected argument 'extra' \(options start with --\)/],
    [['launch'], /unknown command 'launch'/],
    [['demo', '--fast'], /unknown option '--fast'/],
    [['demo', '--law', 'my-law.ts'], /tmr demo --law must be pid-q16 or tank \(the laws the demo explains\), got 'my-law\.ts'$/],
    [['sim', '--trace', '/nonexistent-dir/x.trace', '--ticks', '10'], /--trace \/nonexistent-dir\/x\.trace: cannot write \(ENOENT: no such file or directory\)/],
    [['run', '--replica', 'board'], /--replica 'board': unknown replica kind \(one of node, sim-board, avr-sim, serial:PATH@BAUD, tcp:HOST:PORT\)/],
    [['run', '--replica', 'avr-sim:baud=9600'], /--replica 'avr-sim:baud=9600': the Uno firmware is built for 115200 or 1000000 baud, got 9600/],
    [['run', '--replica', 'avr-sim:speed=1'], /--replica 'avr-sim:speed=1': 'speed=1' is not one of baud=VALUE, hooks=VALUE/],
    [['run', '--replica', 'node', '--replica', 'node'], /--replicas must be odd and at least 3/],
    [['run', '--replicas', '5', '--replica', 'node', '--replica', 'node', '--replica', 'node'], /--replicas says 5 but 3 replicas are described/],
    [['run', '--replica', 'serial:/dev/ttyS0@fast', '--replica', 'node', '--replica', 'node'], /--replica 'serial:\/dev\/ttyS0@fast': baud must be a whole number, got 'fast'/],
    [['run', '--replica', 'sim-board:colour=red', '--replica', 'node', '--replica', 'node'], /'colour=red' is not one of boot-noise=VALUE/],
    [['run', '--replica', 'sim-board:ber=2', '--replica', 'node', '--replica', 'node'], /: ber must be a number from 0 to 0\.1, got '2'/],
    [['sim', '--probation-ticks', '10'], /--probation-ticks needs --recover \(recovery is off unless asked for\)/],
    [['sim', '--recover', '--probation-ticks', '0'], /--probation-ticks must be between 1 and 100000, got 0/],
    [['sim', '--recover', '--restart-limit', '3'], /--restart-limit must be RESTARTS\/MS \(e\.g\. 3\/5000/],
    [['sim', '--recover', '--restart-limit', '0/5000'], /--restart-limit restarts must be between 1 and 100, got 0/],
    [['sim', '--recover', '--restart-backoff-ms', '200/100'], /--restart-backoff-ms max must be between 200 and 3600000, got 100/],
    [['run', '--config', '/nonexistent/run.json'], /--config \/nonexistent\/run\.json: no such file \(ENOENT\)/],
    [['run', '--config', 'package.json', '--ticks', '5'], /--config cannot be combined with --ticks/],
    [['sim', '--actuator', 'firmata:/dev/ttyACM0'], /tmr sim does not take --actuator \(tmr run only/],
    [['run', '--actuator', '/dev/ttyACM0'], /--actuator '\/dev\/ttyACM0': expected firmata:PATH\[@BAUD\]/],
    [['run', '--actuator', 'firmata:/dev/ttyACM0@9'], /--actuator '\/dev\/ttyACM0@9': baud rate must be 300\.\.2000000/],
  ];

  it.each(cases)('tmr %j', async (args, pattern) => {
    const result = await runCli(args, { timeoutMs: 20_000 });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^tmr: /);
    expect(lines[0]).toMatch(pattern);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('tmr run --actuator with no drive there', () => {
  it('fails in one line naming the port, before any replica starts', async () => {
    const result = await runCli(['run', '--ticks', '10', '--actuator', 'firmata:/nonexistent/ttyACM9'], { timeoutMs: 20_000 });
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^tmr: actuator firmata:\/nonexistent\/ttyACM9: cannot open the port: /)]);
    expect(result.stdout).toBe('');
  });
});

describe('--config files: every problem names the file and the field', () => {
  const cases: [unknown, RegExp][] = [
    ['not json', /: not valid JSON \(/],
    [[1, 2], /: must hold one JSON object/],
    [{ rate: 50 }, /: rate is not a setting \(settings: law, plant, replicaCount, replicas, rateHz, ticks, seed, inject, simplexPolicy, deadlineUs, quorumGraceUs, commonModeLimitMs, startPolicy, recovery, io, ioMap, keyFile\)/],
    [{ recovery: { coldRestart: 'yes' } }, /: recovery\.coldRestart must be true or false, got 'yes'/],
    [{ recovery: 'yes' }, /: recovery must be true, false or an object with probationTicks, restartsMax, restartWindowMs, backoffMsBase, backoffMsMax, coldRestart, got 'yes'/],
    [{ recovery: { probation: 5 } }, /: recovery\.probation is not a setting/],
    [{ recovery: { probationTicks: 0 } }, /: recovery\.probationTicks must be between 1 and 100000, got 0/],
    [{ replicas: [{ kind: 'node', crashAfterStateTicks: 5 }, 'node', 'node'] }, /: replicas\[0\]\.crashAfterStateTicks is not a field of a node replica \(fields: kind\)$/],
    [{ rateHz: 'fast' }, /: rateHz must be a whole number, got 'fast'/],
    // Numbers are numbers in a file, and deep nesting is refused before the parser recurses (item 9).
    [{ ticks: '20' }, /: ticks must be a whole number \(a number, not a string\), got '20'$/],
    [{ replicas: [{ kind: 'avr-sim', testHooks: 'false' }, 'node', 'node'] }, /replicas\[0\]\.testHooks must be true or false, got 'false'$/],
    [{ recovery: { x: [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]] } }, /: recovery\.x(\[0\]){14} is nested deeper than 16 levels \(line 1, column \d+\)$/],
    [{ law: 'tank', plant: 'nowhere' }, /: plant nowhere: neither a shipped plant \(motor, tank\) nor an existing \.js or \.ts file$/],
    [{ replicas: 'node' }, /: replicas must be an array, got 'node'/],
    [{ replicas: [{ kind: 'node' }, { kind: 'usb' }, { kind: 'node' }] }, /: replicas\[1\]\.kind must be one of node, serial, tcp, sim-board, avr-sim, got 'usb'/],
    [{ replicas: [{ kind: 'node' }, { kind: 'serial' }, { kind: 'node' }] }, /: replicas\[1\]\.path must be the serial port's path, got undefined/],
    [{ replicas: [{ kind: 'node' }, { kind: 'serial', path: '/dev/ttyACM0', baud: 9600 }, { kind: 'node' }] }, /: replicas\[1\]\.baud is not a field of a serial replica \(fields: kind, path, baudRate\)/],
    [{ replicas: ['node', 'node', 'node'], inject: ['crash:7@5'] }, /replica 7 does not exist/],
  ];
  it.each(cases)('%j', async (content, pattern) => {
    const dir = mkdtempSync(join(tmpdir(), 'tmr-config-'));
    try {
      const file = join(dir, 'run.json');
      writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
      const result = await runCli(['run', '--config', file], { timeoutMs: 20_000 });
      expect(result.code).toBe(2);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toContain(file);
      expect(lines[0]).toMatch(pattern);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a valid file runs like the same flags would', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmr-config-'));
    try {
      const file = join(dir, 'run.json');
      writeFileSync(file, JSON.stringify({ ticks: 300, seed: 5, inject: ['wrong:1@100'] }));
      const fromFile = await runCli(['sim', '--config', file, '--json']);
      const fromFlags = await runCli(['sim', '--ticks', '300', '--seed', '5', '--inject', 'wrong:1@100', '--json']);
      expect(fromFile.code).toBe(0);
      expect(JSON.parse(fromFile.stdout)).toEqual(JSON.parse(fromFlags.stdout));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('extension modules (TMR_EXTENSIONS): the test hooks\' node-test kind, and what is refused', () => {
  const oneLine = (result: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): void => {
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n'), result.stderr).toEqual([expect.stringMatching(pattern)]);
  };

  it.each([
    [['--replica', 'node-test:corrupt-state=yes'], /^tmr: --replica 'node-test:corrupt-state=yes': corrupt-state must be true, false, 1 or 0, got 'yes'$/],
    [['--replica', 'node-test:crash-after-state=soon'], /^tmr: --replica 'node-test:crash-after-state=soon': crash-after-state must be a whole number, got 'soon'$/],
    [['--replica', 'node-test:crash=1'], /^tmr: --replica 'node-test:crash=1': 'crash=1' is not one of crash-after-state=VALUE, corrupt-state=VALUE$/],
  ])('tmr run %j with the test hooks: one line, exit 2', async (replica, pattern) => {
    oneLine(await runCli(['run', ...replica, '--replica', 'node', '--replica', 'node'], { timeoutMs: 20_000, env: TEST_HOOKS_ENV }), pattern);
  });

  it('a config file names the test kind and its fields, and errors name the file and the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmr-config-'));
    try {
      const file = join(dir, 'run.json');
      writeFileSync(file, JSON.stringify({ replicas: [{ kind: 'node-test', crashAfterStateTicks: -1 }, 'node', 'node'] }));
      oneLine(await runCli(['run', '--config', file], { timeoutMs: 20_000, env: TEST_HOOKS_ENV }), /run\.json: replicas\[0\]\.crashAfterStateTicks must be between 0 and 1000000, got -1$/);
      // Without the extension the kind does not exist.
      oneLine(await runCli(['run', '--config', file], { timeoutMs: 20_000 }), /run\.json: replicas\[0\]\.kind must be one of node, serial, tcp, sim-board, avr-sim, got 'node-test'$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tmr help lists an extension\'s kinds, and only when it is loaded', async () => {
    const withHooks = await runCli(['help'], { env: TEST_HOOKS_ENV });
    expect(withHooks.code, withHooks.stderr).toBe(0);
    expect(withHooks.stdout).toMatch(/^ {26}node-test\[:OPTS\] +TEST HOOKS: a Node replica process/m);
    const plain = await runCli(['help']);
    expect(plain.stdout).not.toContain('node-test');
    expect(plain.stdout).not.toContain('crash-after-state');
    // The extensions bin/tmr.ts ships are there.
    for (const word of ['sim-board[:OPTS]', 'avr-sim[:OPTS]', 'tmr hil FILES|DIRS', '--actuator firmata:PATH[@BAUD]', 'TMR_EXTENSIONS']) expect(plain.stdout).toContain(word);
  });

  it.each([
    ['a missing module', 'nowhere.js', '', /^tmr: TMR_EXTENSIONS: .*nowhere\.js: no such file$/],
    ['a module that is not .js or .ts', 'ext.json', '{}', /^tmr: TMR_EXTENSIONS: .*ext\.json: not a \.js or \.ts module$/],
    ['a module that throws', 'throws.mjs', "throw new Error('broken on purpose');", /^tmr: TMR_EXTENSIONS: .*throws\.mjs: the module failed to load: broken on purpose$/],
    ['a module with no extension', 'none.mjs', 'export const x = 1;', /^tmr: TMR_EXTENSIONS: .*none\.mjs: exports no extension/],
    ['a kind that is taken', 'taken.mjs', "export default { name: 'mine', replicaKinds: [{ kind: 'node', usage: 'node', help: { syntax: 'node', lines: [] }, settings: [], spec: () => ({ kind: 'node' }) }] };", /^tmr: TMR_EXTENSIONS: .*taken\.mjs: replica kind 'node' is already registered$/],
    ['a command that is taken', 'command.mjs', "export default { name: 'mine', commands: [{ name: 'run', help: { syntax: 'tmr run', lines: [] }, run: async () => 0 }] };", /^tmr: TMR_EXTENSIONS: .*command\.mjs: command 'run' is already taken$/],
    ['a kind with no spec', 'nospec.mjs', "export default { name: 'mine', replicaKinds: [{ kind: 'mine', usage: 'mine', help: { syntax: 'mine', lines: [] }, settings: [] }] };", /^tmr: TMR_EXTENSIONS: .*nospec\.mjs: replicaKinds\[0\] \(mine\) needs usage/],
  ])('%s is refused in one line, exit 2', async (_what, name, content, pattern) => {
    const dir = mkdtempSync(join(tmpdir(), 'tmr-extension-'));
    try {
      const file = join(dir, name);
      if (content !== '') writeFileSync(file, content);
      oneLine(await runCli(['sim', '--ticks', '10'], { timeoutMs: 20_000, env: { TMR_EXTENSIONS: file } }), pattern);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a user\'s extension adds a command and a replica kind; its usage errors are one line, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmr-extension-'));
    try {
      const file = join(dir, 'mine.mjs');
      writeFileSync(
        file,
        [
          "const hello = { name: 'hello', help: { syntax: 'tmr hello', lines: ['says hello'] }, run: async (argv) => { process.stdout.write(`hello ${argv.join(' ')}\\n`); return 0; } };",
          "const kind = { kind: 'my-board', usage: 'my-board', help: { syntax: 'my-board[:speed=N]', lines: ['a board of mine'] }, settings: [{ key: 'speed', field: 'speed', type: 'whole', min: 0, max: 100 }],",
          "  spec(settings, where) { const e = new Error(`${where.label}: speed must be slow, got ${settings.speed}`); e.name = 'UsageError'; throw e; } };",
          "export default { name: 'mine', commands: [hello], replicaKinds: [kind] };",
        ].join('\n'),
      );
      const env = { TMR_EXTENSIONS: file };
      const hello = await runCli(['hello', 'there'], { env });
      expect(hello.code, hello.stderr).toBe(0);
      expect(hello.stdout).toBe('hello there\n');
      const help = await runCli(['help'], { env });
      expect(help.stdout).toMatch(/^ {2}tmr hello {12}says hello$/m);
      expect(help.stdout).toMatch(/^ {26}my-board\[:speed=N\] +a board of mine$/m);
      oneLine(await runCli(['run', '--replica', 'my-board:speed=9', '--replica', 'node', '--replica', 'node'], { env }), /^tmr: --replica 'my-board:speed=9': speed must be slow, got 9$/);
      oneLine(await runCli(['run', '--replica', 'usb'], { env }), /unknown replica kind \(one of node, sim-board, avr-sim, my-board, serial:PATH@BAUD, tcp:HOST:PORT\)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tmr sim', () => {
  it('prints one JSON object with the documented fields', async () => {
    const result = await runCli(['sim', '--ticks', '500', '--seed', '9', '--inject', 'crash:1@200', '--inject', 'wrong:2@300+50', '--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    for (const key of ['ticks', 'deadlineMisses', 'unsafeCommands', 'modeHistory', 'faults', 'replicas', 'votedTraceHash'] as const) {
      expect(summary, key).toHaveProperty(key);
    }
    expect(summary.ticks).toBe(500);
    expect(summary.votedTraceHash).toMatch(/^[0-9a-f]{8}$/);
    expect(summary.faults).toEqual([
      expect.objectContaining({ kind: 'crash', replica: 1, injectedTick: 200, detectedTick: 200, reason: 'LINK_DOWN' }),
      // In duplex a disagreement cannot be pinned on either replica: no exclusion, the loop goes safe.
      expect.objectContaining({ kind: 'wrong', replica: 2, injectedTick: 300, detectedTick: null, reason: null }),
    ]);
    expect(summary.modeHistory.map((m) => m.mode)).toEqual(['tmr', 'duplex', 'safe']);
    expect(summary.modeHistory[2]).toEqual({ tick: 300, mode: 'safe', reason: 'DUPLEX_DISAGREEMENT' });
    expect(summary.unsafeCommands).toBe(0);
  });

  it('prints a readable summary a newcomer can follow', async () => {
    const result = await runCli(['sim', '--ticks', '400', '--inject', 'state:0@100']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/fault: state on replica 0 at tick 100 — detected at tick 10\d \(\d ticks later\): DIGEST_MISMATCH/);
    expect(result.stdout).toMatch(/unsafe commands: 0/);
    expect(result.stdout).toMatch(/voted trace hash: [0-9a-f]{8}/);
  });

  it('writes the canonical trace with --trace, one line per tick', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmr-trace-'));
    try {
      const file = join(dir, 'run.trace');
      const result = await runCli(['sim', '--ticks', '250', '--trace', file, '--inject', 'hang:2@100']);
      expect(result.code).toBe(0);
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(lines).toHaveLength(250);
      expect(lines[0]).toMatch(/^0 inputs=0,-?\d+ cmd=-?\d+,-?\d+ src=voted mode=tmr in=111 flags=000$/);
      expect(lines.find((l) => l.includes('excluded:2:DEADLINE_MISSED'))).toMatch(/^102 /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([['help'], ['--help'], ['sim', '--help'], ['run', '--ticks', '5', '-h']])('tmr %j prints help and exits 0', async (...args) => {
    const result = await runCli(args);
    expect(result.code).toBe(0);
    for (const word of ['tmr run', 'tmr sim', 'tmr demo', '--inject', 'crash hang wrong stuck late babble state bitflip']) expect(result.stdout).toContain(word);
  });
});
