// Checks tmr-avr-sim with the echo firmware: round-trip latency, a 2 KB burst, reset, port reopen.
// usage: node test/echo-check.mjs --harness build/tmr-avr-sim --elf build/echo.elf
// Exits non-zero on any failure.
import { check, Harness, parseArgs, percentile, Port, runChecks } from './harness-client.mjs';

const frameBytes = 19;
const frameCount = 200;
const burstBytes = 2048;
const eepromMagicHex = '544d5254'; // "TMRT"

const options = parseArgs(process.argv, { harness: 'build/tmr-avr-sim', elf: 'build/echo.elf' });
const harnesses = [];

function frame(index) {
  const bytes = Buffer.alloc(frameBytes);
  for (let i = 0; i < frameBytes; i++) bytes[i] = (index * 31 + i * 7) & 0xff;
  return bytes;
}

async function echoOnce(port, bytes, timeoutMs = 2000) {
  const startNs = process.hrtime.bigint();
  port.write(bytes);
  const echoed = await port.read(bytes.length, timeoutMs);
  const roundTripMs = Number(process.hrtime.bigint() - startNs) / 1e6;
  check(echoed.equals(bytes), `echo mismatch: sent ${bytes.toString('hex')} got ${echoed.toString('hex')}`);
  return roundTripMs;
}

async function measureRoundTrips(port) {
  const roundTripsMs = [];
  for (let i = 0; i < frameCount; i++) roundTripsMs.push(await echoOnce(port, frame(i)));
  roundTripsMs.sort((a, b) => a - b);
  return {
    p50Ms: percentile(roundTripsMs, 0.5),
    p99Ms: percentile(roundTripsMs, 0.99),
    maxMs: roundTripsMs[roundTripsMs.length - 1],
  };
}

async function checkBurst(port) {
  const burst = Buffer.alloc(burstBytes);
  for (let i = 0; i < burstBytes; i++) burst[i] = (i * 13 + (i >> 8)) & 0xff; // all 256 values
  const startNs = process.hrtime.bigint();
  port.write(burst);
  const echoed = await port.read(burstBytes, 10000);
  const elapsedMs = Number(process.hrtime.bigint() - startNs) / 1e6;
  for (let i = 0; i < burstBytes; i++) {
    check(echoed[i] === burst[i], `burst byte ${i}: sent ${burst[i]} got ${echoed[i]}`);
  }
  return elapsedMs;
}

await runChecks(`echo-check ${options.elf}`, harnesses, async () => {
  const startNs = process.hrtime.bigint();
  const harness = new Harness(options.harness, ['--elf', options.elf, '--eeprom-hex', eepromMagicHex]);
  harnesses.push(harness);
  const ptyPath = await harness.ptyPath();
  let port = await Port.open(ptyPath, 115200);
  const firstEchoMs = (await echoOnce(port, frame(0))) + 0;
  const startToFirstEchoMs = Number(process.hrtime.bigint() - startNs) / 1e6;

  const latency = await measureRoundTrips(port);
  const burstMs = await checkBurst(port);
  check((await harness.command('peek g_eepromHead', 'peek ')).endsWith(` 4 ${eepromMagicHex}`), 'EEPROM magic at boot');
  check((await harness.command('peek g_txDroppedBytes', 'peek ')).endsWith(' 2 0000'), 'firmware dropped no echo bytes');

  check((await harness.command('reset', 'ok ')) === 'ok reset', 'reset reply');
  await echoOnce(port, frame(1));
  check((await harness.command('peek g_eepromHead', 'peek ')).endsWith(` 4 ${eepromMagicHex}`), 'EEPROM magic after reset');
  check((await harness.command('peek g_bootCount', 'peek ')).endsWith(' 2 0100'), 'boot count is 1 (SRAM cleared by reset)');

  await port.close();
  port = await Port.open(ptyPath, 9600);
  const reopenEchoMs = await echoOnce(port, frame(2));
  await port.close();
  port = await Port.open(ptyPath, 1000000);
  await echoOnce(port, frame(3));

  const stats = await harness.command('stats', 'stats ');
  check(/txDroppedBytes=0 /.test(stats), `no bytes dropped: ${stats}`);
  check((await harness.command('frobnicate', 'error ')) === 'error unknown command frobnicate', 'unknown command');
  check((await harness.command('peek no_such_symbol', 'error ')) === 'error unknown symbol no_such_symbol', 'unknown symbol');
  const stackLine = await harness.command('stack', 'stack ');
  check(/^stack \d+$/.test(stackLine), `stack reply: ${stackLine}`);

  harness.child.stdin.write('quit\n');
  const exit = await harness.waitExit();
  check(exit.code === 0, `quit exits 0, got ${JSON.stringify(exit)}`);
  await port.close();
  check(harness.lines.length === 0, `no unexpected stdout lines: ${JSON.stringify(harness.lines)}`);

  console.log(JSON.stringify({
    elf: options.elf,
    frameBytes,
    frames: frameCount,
    roundTripP50Ms: +latency.p50Ms.toFixed(3),
    roundTripP99Ms: +latency.p99Ms.toFixed(3),
    roundTripMaxMs: +latency.maxMs.toFixed(3),
    firstEchoMs: +firstEchoMs.toFixed(3),
    startToFirstEchoMs: +startToFirstEchoMs.toFixed(1),
    burstBytes,
    burstRoundTripMs: +burstMs.toFixed(1),
    reopenEchoMs: +reopenEchoMs.toFixed(3),
    [stackLine.split(' ')[0]]: Number(stackLine.split(' ')[1]),
  }));
});
