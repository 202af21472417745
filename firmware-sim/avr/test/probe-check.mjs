// Checks tmr-avr-sim beyond echo, with test/probe.c: watchdog reset, EEPROM persistence,
// `cli; sleep` and crash handling, stack tracking, signals, stdin EOF, setup errors, parallel runs.
// usage: node test/probe-check.mjs --harness build/tmr-avr-sim --elf build/probe.elf
// Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { check, Harness, parseArgs, Port, runChecks } from './harness-client.mjs';

const eepromMagicHex = '544d5254';
const stackProbeBytes = 300; // STACK_PROBE_BYTES in probe.c

const options = parseArgs(process.argv, { harness: 'build/tmr-avr-sim', elf: 'build/probe.elf' });
const harnesses = [];
const report = {};

function startHarness(extraArgs = []) {
  const harness = new Harness(options.harness, ['--elf', options.elf, ...extraArgs]);
  harnesses.push(harness);
  return harness;
}

async function probe(port, command) {
  port.write(Buffer.from(command, 'latin1'));
  return port.readLine();
}

function parseBoot(line) {
  const match = /^boot ([0-9a-f]{4}) mcusr ([0-9a-f]{2}) magic ([0-9a-f]{8})$/.exec(line);
  check(match, `boot line: ${line}`);
  return { bootCount: parseInt(match[1], 16), mcusr: parseInt(match[2], 16), magic: match[3] };
}

async function checkWatchdogAndEeprom(harness, port) {
  const first = parseBoot(await probe(port, 'b'));
  check(first.mcusr === 0x01 && first.magic === eepromMagicHex, `power-on boot: ${JSON.stringify(first)}`);
  const startNs = process.hrtime.bigint();
  check((await probe(port, 'w')) === 'wdt', 'wdt announce');
  // The firmware restarts by itself. A byte sent before the reset would be lost with the UART, and
  // polling the port leaves late answers behind for the next probe (seen on a busy machine), so
  // ask the harness, on stdin, until it has seen the reset: after it the harness holds input until
  // the firmware's UART is up again, and one 'b' gets exactly one answer.
  const rebootDeadlineMs = Date.now() + 2000;
  while (!/ firmwareResets=1 /.test(await harness.command('stats', 'stats '))) {
    check(Date.now() < rebootDeadlineMs, 'the watchdog resets the firmware within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const second = parseBoot(await probe(port, 'b'));
  report.watchdogRebootMs = +(Number(process.hrtime.bigint() - startNs) / 1e6).toFixed(1);
  check(second.mcusr === 0x08, `WDRF set after watchdog reset: ${JSON.stringify(second)}`);
  check(second.bootCount === first.bootCount + 1, 'EEPROM boot counter survives the watchdog reset');
  check(second.magic === eepromMagicHex, 'EEPROM magic survives the watchdog reset');
  const stats = await harness.command('stats', 'stats ');
  check(/ firmwareResets=1 /.test(stats), `watchdog reset counted: ${stats}`);
  return second.bootCount;
}

async function checkHaltStates(harness, port, bootCount) {
  check((await probe(port, 'c')) === 'cli', 'cli announce');
  check((await harness.nextLine((l) => l.startsWith('state '))) === 'state done', 'cli; sleep -> state done');
  port.write(Buffer.from('b')); // a dead board receives nothing
  await new Promise((resolve) => setTimeout(resolve, 50));
  check((await harness.command('stats', 'stats ')).includes(' rxDiscardedBytes=1 '), 'input to a halted MCU is discarded and counted');
  check(port.received.length === 0, 'halted MCU sends nothing');
  check((await harness.command('reset', 'ok ')) === 'ok reset', 'reset after done');
  const afterDone = parseBoot(await probe(port, 'b'));
  check(afterDone.mcusr === 0x02 && afterDone.bootCount === bootCount + 1, `boot after reset: ${JSON.stringify(afterDone)}`);

  check((await probe(port, 'x')) === 'crash', 'crash announce');
  check((await harness.nextLine((l) => l.startsWith('state '))) === 'state crashed', 'bad store -> state crashed');
  check(/^peek g_bootCount \d+ 2 [0-9a-f]{4}$/.test(await harness.command('peek g_bootCount', 'peek ')), 'peek works while crashed');
  check((await harness.command('reset', 'ok ')) === 'ok reset', 'reset after crash');
  const afterCrash = parseBoot(await probe(port, 'b'));
  check(afterCrash.bootCount === bootCount + 2 && afterCrash.magic === eepromMagicHex, `boot after crash: ${JSON.stringify(afterCrash)}`);
}

async function checkStack(harness, port) {
  const before = Number((await harness.command('stack', 'stack ')).split(' ')[1]);
  const deepLine = await probe(port, 'd');
  check(/^deep [0-9a-f]{4}$/.test(deepLine), `deep line: ${deepLine}`);
  const spInside = parseInt(deepLine.slice(5), 16);
  const after = Number((await harness.command('stack', 'stack ')).split(' ')[1]);
  check(after <= spInside, `lowest SP ${after} <= SP inside the deep call ${spInside}`);
  // `before` already includes earlier call frames (put(), ISRs), so allow some overlap.
  check(before - after >= stackProbeBytes - 32, `lowest SP fell by ~${stackProbeBytes}: ${before} -> ${after}`);
  check(spInside - after < 16, `lowest SP ${after} is near the deepest real SP ${spInside} (no false lows)`);
  report.stackLowestBefore = before;
  report.stackLowestAfterDeepCall = after;
}

async function checkExitPaths() {
  for (const [how, act] of [
    ['SIGTERM', (h) => process.kill(h.child.pid, 'SIGTERM')],
    ['SIGINT', (h) => process.kill(h.child.pid, 'SIGINT')],
    ['stdin EOF', (h) => h.child.stdin.end()],
    ['quit', (h) => h.child.stdin.write('quit\n')],
  ]) {
    const harness = startHarness();
    const port = await Port.open(await harness.ptyPath(), 9600); // a host holds the port open
    const startNs = process.hrtime.bigint();
    act(harness);
    const exit = await harness.waitExit(1000);
    check(exit.code === 0, `${how} exits 0, got ${JSON.stringify(exit)}`);
    await port.close();
    report[`exitMs_${how.replace(/\s/g, '')}`] = +(Number(process.hrtime.bigint() - startNs) / 1e6).toFixed(1);
  }
}

function checkSetupErrors() {
  const cases = [
    ['missing ELF', ['--elf', '/nonexistent.elf']],
    ['not an ELF', ['--elf', new URL('./echo.c', import.meta.url).pathname]],
    ['host ELF', ['--elf', options.harness]],
    ['no --elf', []],
    ['unknown option', ['--elf', options.elf, '--bogus', '1']],
    ['option without value', ['--elf', options.elf, '--mcu']],
    ['unknown mcu', ['--elf', options.elf, '--mcu', 'atmega9999']],
    ['odd hex', ['--elf', options.elf, '--eeprom-hex', '544']],
    ['non-hex', ['--elf', options.elf, '--eeprom-hex', 'zz']],
    ['EEPROM too big', ['--elf', options.elf, '--eeprom-hex', '00'.repeat(1025)]],
    ['bad frequency', ['--elf', options.elf, '--freq-hz', '16MHz']],
    ['zero frequency', ['--elf', options.elf, '--freq-hz', '0']],
  ];
  for (const [name, args] of cases) {
    const result = spawnSync(options.harness, args, { input: '', timeout: 2000, encoding: 'utf8' });
    const stderrLines = result.stderr.split('\n').filter((l) => l.length > 0);
    check(result.status === 2, `${name}: exit 2, got ${result.status} ${result.signal ?? ''}`);
    check(result.stdout === '', `${name}: nothing on stdout, got ${JSON.stringify(result.stdout)}`);
    check(stderrLines.length === 1 && stderrLines[0].startsWith('tmr-avr-sim: '), `${name}: one stderr line, got ${JSON.stringify(result.stderr)}`);
  }
  report.setupErrorCasesChecked = cases.length;
}

async function checkParallelRuns() {
  const a = startHarness();
  const b = startHarness();
  const [pathA, pathB] = [await a.ptyPath(), await b.ptyPath()];
  check(pathA !== pathB, 'parallel harnesses get distinct ptys');
  const [portA, portB] = [await Port.open(pathA, 1000000), await Port.open(pathB, 1000000)];
  check(parseBoot(await probe(portA, 'b')).bootCount === 1, 'harness A answers');
  check(parseBoot(await probe(portB, 'b')).bootCount === 1, 'harness B answers');
  await portA.close();
  await portB.close();
  for (const h of [a, b]) {
    h.child.stdin.write('quit\n');
    check((await h.waitExit()).code === 0, 'parallel harness quits');
  }
}

await runChecks(`probe-check ${options.elf}`, harnesses, async () => {
  const harness = startHarness(['--eeprom-hex', eepromMagicHex]);
  const port = await Port.open(await harness.ptyPath(), 1000000);
  const bootCount = await checkWatchdogAndEeprom(harness, port);
  await checkHaltStates(harness, port, bootCount);
  await checkStack(harness, port);
  await port.close();
  harness.child.stdin.write('quit\n');
  check((await harness.waitExit()).code === 0, 'quit exits 0');
  await checkExitPaths();
  checkSetupErrors();
  await checkParallelRuns();
  console.log(JSON.stringify(report));
});
