/**
 * Bench: the tick round trip to the Uno firmware in the AVR emulator, at 115200 and 1,000,000
 * baud, next to its physical floor, the wire time of the two frames (bytes × 10 bits ÷ baud, both
 * directions); and, for each shipped law, the firmware's worst tick in CPU cycles against the
 * 115200-baud wire time of its tick and output frames, and the stack high-water mark, read from the
 * emulated MCU.
 */
import { performance } from 'node:perf_hooks';
import { AvrSim } from '../../firmware-sim/avr-sim.js';
import { Prng } from '../../src/core/prng.js';
import { DEFAULT_LAW, SHIPPED_LAWS, shippedLaw, type ShippedLawName } from '../../src/law/law-loader.js';
import { drawInputs, resetWalk } from '../../src/law/law-runtime.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { SerialTransport } from '../../src/transport/serial-transport.js';
import { BoardClient, helloFor } from '../boards/board-client.js';
import { formatNumber, infoRow, percentiles, verdict, type ResultRow } from './bench-stats.js';

export const AVR_RATIO_MAX = 1.25;
const TICKS = 600;
const RAM_END = 0x8ff; // ATmega328P: SRAM 0x100..0x8ff
const CLOCK_HZ = 16_000_000;

export interface AvrBaudResult {
  baudRate: number;
  ticks: number;
  roundTripUs: { p50: number; p99: number; max: number };
  wireUs: { p50: number };
  frameBytes: { tick: number; output: number };
}

/** One law's worst tick on the board, next to the wire time of its frames at the slowest baud rate. */
export interface AvrLawTick {
  law: ShippedLawName;
  tickCyclesMax: number;
  /** Wire time of the law's tick and output frames at 115200 baud, in CPU cycles at 16 MHz. */
  wireCycles115200: number;
}

export interface AvrReport {
  bauds: AvrBaudResult[];
  laws: AvrLawTick[];
  tickCyclesMax: number;
  stackHighWaterBytes: number;
  stackUnusedMinBytes: number;
}

async function measureBaud(baudRate: number, lawName: ShippedLawName = DEFAULT_LAW): Promise<{ result: AvrBaudResult; cycles: number; stackBytes: number; unused: number }> {
  const sim = await AvrSim.start({ name: `bench-avr-${baudRate}`, baudRate, law: lawName });
  const transport = await SerialTransport.open({ path: sim.hostPath, baudRate, name: `bench avr ${baudRate}` });
  try {
    const client = new BoardClient(transport);
    const law = shippedLaw(lawName);
    await client.request(helloFor(law, law.paramsForRate(100)), 'hello');
    const prng = new Prng(0xbe4c);
    const previous = new Float64Array(law.inputCount);
    const inputs = new Int32Array(law.inputCount);
    resetWalk(law.definition, previous);
    const rtt: number[] = [];
    const wire: number[] = [];
    let tickBytes = 0;
    let outputBytes = 0;
    for (let i = 0; i < TICKS; i++) {
      drawInputs(prng, law.definition, previous, inputs);
      const frame = encodeMessage({ kind: 'tick', tick: 1000 + i, inputs });
      const t0 = performance.now();
      client.send(frame);
      const [reply] = await client.take(1, 2_000, `bench tick ${i}`);
      const elapsedUs = (performance.now() - t0) * 1000;
      const replyBytes = reply!.raw.length + 1; // + delimiter
      if (i >= 20) {
        rtt.push(elapsedUs);
        wire.push(((frame.length + replyBytes) * 10 * 1e6) / baudRate);
        tickBytes += frame.length;
        outputBytes += replyBytes;
      }
      await new Promise((resolve) => setTimeout(resolve, 2)); // an idle gap, as between ticks
    }
    const diag = await sim.diag();
    const lowestSp = await sim.lowestStackPointer();
    const r = percentiles(Float64Array.from(rtt));
    const w = percentiles(Float64Array.from(wire));
    return {
      result: {
        baudRate,
        ticks: rtt.length,
        roundTripUs: { p50: r.p50Us, p99: r.p99Us, max: r.maxUs },
        wireUs: { p50: w.p50Us },
        frameBytes: { tick: tickBytes / rtt.length, output: outputBytes / rtt.length },
      },
      cycles: diag.tickCyclesMax,
      stackBytes: RAM_END - lowestSp,
      unused: diag.stackUnusedMinBytes,
    };
  } finally {
    await transport.close();
    await sim.stop();
  }
}

export async function measureAvrRoundTrips(): Promise<AvrReport> {
  const bauds: AvrBaudResult[] = [];
  let cycles = 0;
  let stack = 0;
  let unused = Number.MAX_SAFE_INTEGER;
  for (const baud of [115_200, 1_000_000]) {
    const m = await measureBaud(baud);
    bauds.push(m.result);
    cycles = Math.max(cycles, m.cycles);
    stack = Math.max(stack, m.stackBytes);
    unused = Math.min(unused, m.unused);
  }
  // Each law on its own image at the slowest rate: the worst tick must fit well within the frames' wire time.
  const laws: AvrLawTick[] = [];
  for (const law of SHIPPED_LAWS) {
    const m = await measureBaud(115_200, law);
    const wireUs = ((m.result.frameBytes.tick + m.result.frameBytes.output) * 10 * 1e6) / 115_200;
    laws.push({ law, tickCyclesMax: m.cycles, wireCycles115200: Math.round((wireUs * CLOCK_HZ) / 1e6) });
    stack = Math.max(stack, m.stackBytes);
    unused = Math.min(unused, m.unused);
  }
  return { bauds, laws, tickCyclesMax: cycles, stackHighWaterBytes: stack, stackUnusedMinBytes: unused };
}

export function avrRows(report: AvrReport): ResultRow[] {
  const rows: ResultRow[] = [];
  for (const b of report.bauds) {
    const section = `emulated Uno (simavr) at ${formatNumber(b.baudRate)} baud, n=${b.ticks}; floor = wire time of tick + output`;
    const ratio = b.roundTripUs.p50 / b.wireUs.p50;
    rows.push({
      section,
      metric: `tick round trip p50 (${b.frameBytes.tick.toFixed(1)} + ${b.frameBytes.output.toFixed(1)} bytes)`,
      measured: b.roundTripUs.p50,
      unit: 'µs',
      floor: b.wireUs.p50,
      ratio,
      target: `≤ ${AVR_RATIO_MAX.toFixed(2)}× floor`,
      verdict: verdict(ratio <= AVR_RATIO_MAX),
    });
    rows.push(infoRow(section, 'tick round trip p99', b.roundTripUs.p99, 'µs', b.wireUs.p50));
  }
  const section = 'Uno firmware (ATmega328P, 16 MHz), read from the emulated MCU';
  rows.push(infoRow(section, 'worst tick: frame delimiter → output queued, cycles', report.tickCyclesMax, 'cycles'));
  for (const l of report.laws) {
    const ratio = l.tickCyclesMax / l.wireCycles115200;
    rows.push({
      section,
      metric: `law ${l.law}: worst tick, cycles; floor = its frames' wire time at 115200 baud`,
      measured: l.tickCyclesMax,
      unit: 'cycles',
      floor: l.wireCycles115200,
      ratio,
      target: '< 1× wire time',
      verdict: verdict(ratio < 1),
    });
  }
  rows.push(infoRow(section, 'worst tick, at 16 MHz', (report.tickCyclesMax / CLOCK_HZ) * 1e6, 'µs'));
  rows.push(infoRow(section, 'stack high-water mark (RAMEND − lowest SP)', report.stackHighWaterBytes, 'B'));
  rows.push(infoRow(section, 'RAM never touched (painted stack area)', report.stackUnusedMinBytes, 'B'));
  return rows;
}
