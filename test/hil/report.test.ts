import { describe, expect, it } from 'vitest';
import { junitXml } from '../../hil/report/junit.js';
import { renderPlotSvg } from '../../hil/report/plot-svg.js';
import { formatVerdictTable } from '../../hil/report/verdict-table.js';
import type { CriterionOutcome, InputSeries, Marker, OutputSeries, ScenarioResult } from '../../hil/result.js';

// ---------------------------------------------------------------------------------------------
// Factory: a realistic 3-replica run. r1 gets a wrong-output fault at tick 200 (for 50 ticks), is
// excluded at tick 210 (its output null from then on), r2 misses replies at ticks 300..309, the
// ladder goes tmr → duplex at 210 → safe at 500, the actuator goes safe at 500.

const FAULT_TICK = 200;
const EXCLUDE_TICK = 210;
const SAFE_TICK = 500;

function criterion(name: string, passed: boolean, measured: number, bound: number, tick: number | null): CriterionOutcome {
  const message = passed
    ? `${name} ${measured} within ${bound}`
    : `${name}: measured ${measured}, bound ${bound}, at tick ${tick ?? '-'}`;
  return { name, passed, measured, bound, tick, message };
}

function seriesFor(ticks: number): ScenarioResult['series'] {
  const setpointMilliDeg: number[] = [];
  const positionMilliDeg: number[] = [];
  const truePositionMilliDeg: number[] = [];
  const commandMv: (number | null)[] = [];
  const rate: (number | null)[] = [];
  const appliedMv: number[] = [];
  const replicaCommandMv: (number | null)[][] = [[], [], []];
  for (let tick = 0; tick < ticks; tick++) {
    const setpoint = tick < ticks / 3 ? 0 : 30_000;
    const position = Math.round(setpoint * (1 - Math.exp(-(tick % 200) / 40)));
    const command = tick >= SAFE_TICK ? null : 3000 + (tick % 7) * 10;
    setpointMilliDeg.push(setpoint);
    positionMilliDeg.push(position);
    truePositionMilliDeg.push(position + 10);
    commandMv.push(command);
    rate.push(command === null ? null : 0);
    appliedMv.push(command ?? 0);
    replicaCommandMv[0]?.push(command);
    replicaCommandMv[1]?.push(tick >= EXCLUDE_TICK ? null : tick >= FAULT_TICK ? -9000 : command);
    replicaCommandMv[2]?.push(tick >= 300 && tick < 310 ? null : command);
  }
  return {
    inputs: [
      { name: 'setpointMilliDeg', unit: 'mdeg', min: -524_288, max: 524_288, values: setpointMilliDeg },
      { name: 'positionMilliDeg', unit: 'mdeg', min: -524_288, max: 524_288, values: positionMilliDeg },
    ],
    outputs: [
      { name: 'commandMv', unit: 'mV', min: -32_767, max: 32_767, values: commandMv, replicas: replicaCommandMv },
      { name: 'rateMilliDegPerTick', unit: 'mdeg/tick', min: -(1 << 20), max: 1 << 20, values: rate, replicas: replicaCommandMv.map((column) => column.map((v) => (v === null ? null : 0))) },
    ],
    motor: { truePositionMilliDeg, appliedMv },
  };
}

function markersFor(): Marker[] {
  return [
    { tick: FAULT_TICK, kind: 'faultInjected', replicaIndex: 1, label: 'wrong → r1', endTick: FAULT_TICK + 49 },
    { tick: FAULT_TICK + 50, kind: 'faultEnded', replicaIndex: 1, label: 'r1 fault ends', endTick: null },
    { tick: EXCLUDE_TICK, kind: 'replicaExcluded', replicaIndex: 1, label: 'r1 out: OUTPUT_DISAGREE', endTick: null },
    { tick: 350, kind: 'disturbance', replicaIndex: null, label: 'load 200 mNm', endTick: 399 },
    { tick: SAFE_TICK, kind: 'voterDeath', replicaIndex: null, label: 'voter killed', endTick: null },
    { tick: SAFE_TICK, kind: 'actuatorSafe', replicaIndex: null, label: 'actuator safe (watchdog)', endTick: null },
  ];
}

function makeResult(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  const ticks = overrides.ticks ?? 600;
  return {
    name: 'r1-wrong-output',
    description: 'one replica outputs a wrong command; it is excluded and the ladder degrades',
    file: 'hil/scenarios/r1-wrong-output.json',
    verdict: 'pass',
    error: null,
    seed: 42,
    law: { name: 'pid-q16', version: 2 },
    plant: 'motor',
    tracking: { setpoint: 'setpointMilliDeg', measured: 'positionMilliDeg', unit: 'mdeg' },
    rateHz: 100,
    ticks,
    replicaKinds: ['node', 'sim-board', 'avr-sim'],
    timeBase: 'simulated',
    wallMs: 1234,
    realTimeFactor: 4.86,
    criteria: [criterion('exclusionTicksMax', true, 10, 20, EXCLUDE_TICK)],
    modeBands: [
      { fromTick: 0, toTick: EXCLUDE_TICK, mode: 'tmr' },
      { fromTick: EXCLUDE_TICK, toTick: SAFE_TICK, mode: 'duplex' },
      { fromTick: SAFE_TICK, toTick: ticks, mode: 'safe' },
    ],
    markers: markersFor(),
    series: seriesFor(ticks),
    counters: { unsafeCommands: 0, deadlineMisses: 0 },
    referenceTraceHash: null,
    votedTraceHash: '9f2c01ab',
    actuatorPath: 'johnny-five Servo → tmr sim-drive IO plugin',
    replayCommand: 'npx tmr hil hil/scenarios/wrong-during-step.json',
    ...overrides,
  };
}

const TRACKING_FAILURE = criterion('trackingErrorMaxMilliDeg', false, 5123, 2000, 417);

function failingResult(): ScenarioResult {
  return makeResult({
    name: 'tracking-under-load',
    verdict: 'fail',
    criteria: [
      criterion('exclusionTicksMax', true, 10, 20, EXCLUDE_TICK),
      TRACKING_FAILURE,
      criterion('unsafeCommandsMax', false, 3, 0, 512),
    ],
  });
}

function errorResult(): ScenarioResult {
  return makeResult({
    name: 'avr-boot',
    verdict: 'error',
    error: 'avr-sim r2 did not start within 5000 ms: \u001b[31mELF not found\u001b[0m',
    ticks: 0,
    criteria: [],
    modeBands: [],
    markers: [],
    wallMs: 5012,
    realTimeFactor: 0,
    timeBase: 'realtime',
  });
}

/**
 * A tank-law run (three inputs, three outputs): replica 1's valve output goes wrong at tick 100, it
 * is excluded at tick 102 (silent from 103), the loop runs on in duplex.
 */
function tankResult(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  const ticks = 300;
  const setpoint = Array.from({ length: ticks }, (_, t) => (t < 100 ? 800 : t < 200 ? 1200 : 600));
  const level = Array.from({ length: ticks }, (_, t) => 300 + t);
  const valve = Array.from({ length: ticks }, (_, t) => (t < 100 ? 750 : 1000));
  const pump = Array.from({ length: ticks }, (_, t) => (t < 200 ? 1 : 0));
  const alarm = new Array<number>(ticks).fill(0);
  const faulty = valve.map((v, t) => (t >= 103 ? null : t >= 100 ? (v + 338) % 1001 : v));
  const silentFrom103 = (values: number[]): (number | null)[] => values.map((v, t) => (t >= 103 ? null : v));
  return makeResult({
    name: 'tank-wrong',
    description: 'the tank law with a wrong valve on replica 1',
    file: 'hil/scenarios/tank-wrong.json',
    law: { name: 'tank', version: 1 },
    plant: 'tank',
    tracking: { setpoint: 'levelSetpointMm', measured: 'levelMm', unit: 'mm' },
    rateHz: 50,
    ticks,
    replicaKinds: ['sim', 'sim', 'sim'],
    criteria: [criterion('detectionLatencyTicksMax (faults[0] wrong → r1)', true, 2, 3, 102)],
    modeBands: [
      { fromTick: 0, toTick: 102, mode: 'tmr' },
      { fromTick: 102, toTick: ticks, mode: 'duplex' },
    ],
    markers: [
      { tick: 100, kind: 'faultInjected', replicaIndex: 1, label: 'wrong → r1', endTick: null },
      { tick: 102, kind: 'replicaExcluded', replicaIndex: 1, label: 'r1 out: OUTPUT_DISAGREE', endTick: null },
    ],
    series: {
      inputs: [
        { name: 'levelSetpointMm', unit: 'mm', min: 0, max: 2000, values: setpoint },
        { name: 'levelMm', unit: 'mm', min: 0, max: 2000, values: level },
        { name: 'highSwitch', unit: 'bool', min: 0, max: 1, values: new Array<number>(ticks).fill(0) },
      ],
      outputs: [
        { name: 'valvePermille', unit: 'permille', min: 0, max: 1000, values: valve, replicas: [valve, faulty, valve] },
        { name: 'pumpOn', unit: 'bool', min: 0, max: 1, values: pump, replicas: [pump, silentFrom103(pump), pump] },
        { name: 'alarm', unit: 'bool', min: 0, max: 1, values: alarm, replicas: [alarm, silentFrom103(alarm), alarm] },
      ],
    },
    actuatorPath: "plant tank: its module's own world (no johnny-five path)",
    replayCommand: 'npx tmr hil hil/scenarios/tank-wrong.json',
    ...overrides,
  });
}

// ---------------------------------------------------------------------------------------------
// A minimal XML well-formedness checker: declaration, comments, balanced and properly nested
// elements, quoted attributes without raw '<', entity references that exist, one root element.

const ENTITY = /^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/;
const XML_FORBIDDEN_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

function checkEntities(text: string, where: number): void {
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
    if (!ENTITY.test(text.slice(i))) throw new Error(`bad '&' at ${where + i}: ${text.slice(i, i + 12)}`);
  }
  if (XML_FORBIDDEN_CHAR.test(text)) throw new Error(`forbidden character near ${where}`);
}

const TAG = /^<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/;

/** Throws on the first well-formedness error; returns the root element's name. */
function checkWellFormed(xml: string): string {
  let i = 0;
  const stack: string[] = [];
  let root = '';
  if (xml.startsWith('<?xml')) i = xml.indexOf('?>') + 2;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    checkEntities(text, i);
    if (text.includes('>')) throw new Error(`raw '>' in text at ${i}`);
    if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root at ${i}`);
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) {
      i = xml.indexOf('-->', lt) + 3;
      continue;
    }
    const match = TAG.exec(xml.slice(lt));
    if (match === null) throw new Error(`malformed tag at ${lt}: ${xml.slice(lt, lt + 40)}`);
    const [whole, closing, name = '', attrs = '', selfClosing] = match;
    checkEntities(attrs, lt);
    if (closing === '/') {
      if (stack.pop() !== name) throw new Error(`</${name}> at ${lt} closes the wrong element`);
    } else {
      if (stack.length === 0 && root !== '') throw new Error(`second root <${name}> at ${lt}`);
      if (stack.length === 0) root = name;
      if (selfClosing !== '/') stack.push(name);
    }
    i = lt + whole.length;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('><')}>`);
  return root;
}

function attributeOf(xml: string, element: string, attribute: string): string | undefined {
  return new RegExp(`<${element}(?=[\\s/>])[^>]*\\s${attribute}="([^"]*)"`).exec(xml)?.[1];
}

/** The polylines of one series (or of all series), each as its list of points. */
function polylinePoints(svg: string, seriesId?: string): { x: number; y: number }[][] {
  const filter = seriesId === undefined ? '[^"]*' : seriesId;
  const groups = [...svg.matchAll(new RegExp(`<g data-series="${filter}"[^>]*>([^]*?)</g>`, 'g'))];
  const lines = groups.flatMap((group) => [...(group[1] ?? '').matchAll(/<polyline points="([^"]*)"\/>/g)]);
  return lines.map((line) =>
    (line[1] ?? '').split(' ').map((pair) => {
      const [x = NaN, y = NaN] = pair.split(',').map(Number);
      return { x, y };
    }),
  );
}

describe('checkWellFormed (the test helper itself)', () => {
  it('rejects what is not well-formed', () => {
    expect(checkWellFormed('<a><b x="1"/>t &amp; u</a>')).toBe('a');
    expect(() => checkWellFormed('<a><b></a></b>')).toThrow();
    expect(() => checkWellFormed('<a>x & y</a>')).toThrow();
    expect(() => checkWellFormed('<a x="<"/>')).toThrow();
    expect(() => checkWellFormed('<a>')).toThrow();
    expect(() => checkWellFormed('<a/><b/>')).toThrow();
    expect(() => checkWellFormed('<a>\u0007</a>')).toThrow();
  });
});

// ---------------------------------------------------------------------------------------------

describe('renderPlotSvg', () => {
  it('is a well-formed, self-contained SVG about 1200 px wide', () => {
    const svg = renderPlotSvg(failingResult());
    expect(checkWellFormed(svg)).toBe('svg');
    expect(attributeOf(svg, 'svg', 'width')).toBe('1200');
    expect(svg).not.toMatch(/<script|<style|@import|url\(|href=/);
  });

  it('names the scenario, verdict, seed, rate, replica kinds, time base and speed in the title', () => {
    const svg = renderPlotSvg(failingResult());
    for (const text of ['tracking-under-load', 'FAIL', 'seed 42', '100 Hz', 'node, sim-board, avr-sim', 'simulated', '×4.86']) {
      expect(svg).toContain(text);
    }
    expect(svg).toContain('fill="#cf222e" dx="10">FAIL');
  });

  it('labels every marker and every mode, and the legend names each kind that appears', () => {
    const svg = renderPlotSvg(makeResult());
    for (const marker of markersFor()) expect(svg).toContain(`>${marker.label}</text>`);
    for (const mode of ['tmr', 'duplex', 'safe']) expect(svg).toMatch(new RegExp(`font-weight="bold" fill="[^"]*">${mode}</text>`));
    const legend = ['setpoint', 'position (measured)', 'position (true shaft)', 'voted command', 'applied voltage', 'r1 sim-board output'];
    for (const text of legend) expect(svg).toContain(`>${text}</text>`);
    for (const kind of ['fault injected', 'fault ended', 'replica excluded', 'disturbance', 'voter death', 'actuator safe']) {
      expect(svg).toContain(`>${kind}</text>`);
    }
    expect(svg).toContain('class="interval-faultInjected"');
    expect(svg).toContain('class="interval-disturbance"');
    const withoutVoterDeath = renderPlotSvg(makeResult({ markers: markersFor().filter((m) => m.kind !== 'voterDeath') }));
    expect(withoutVoterDeath).not.toContain('voter death');
    expect(withoutVoterDeath).not.toContain('mode simplex');
  });

  it('staggers the labels of markers at the same tick into different rows', () => {
    const svg = renderPlotSvg(makeResult());
    const yOfLabel = (kind: string): string | undefined => attributeOf(svg, `text class="label-${kind}"`, 'y');
    expect(yOfLabel('voterDeath')).toBeDefined();
    expect(yOfLabel('voterDeath')).not.toBe(yOfLabel('actuatorSafe'));
    expect(yOfLabel('faultInjected')).not.toBe(yOfLabel('replicaExcluded'));
  });

  it('draws a null as a gap, never as zero', () => {
    const svg = renderPlotSvg(makeResult());
    // r2 misses ticks 300..309 and is silent from 500 (safe): two runs, 490 points (one per tick).
    const r2 = polylinePoints(svg, 'replica-2');
    expect(r2).toHaveLength(2);
    expect(r2.reduce((sum, run) => sum + run.length, 0)).toBe(490);
    // r1 is excluded at 210: one run of 210 points.
    expect(polylinePoints(svg, 'replica-1').map((run) => run.length)).toEqual([210]);
    expect(polylinePoints(svg, 'command').map((run) => run.length)).toEqual([SAFE_TICK]);
  });

  it('escapes <, & and " in every text', () => {
    const name = 'step <fast> & "hard"';
    const svg = renderPlotSvg(makeResult({ name, description: 'a < b && c > d', markers: [{ ...markersFor()[0]!, label: '<r1> & "x"' }] }));
    expect(checkWellFormed(svg)).toBe('svg');
    expect(svg).toContain('step &lt;fast&gt; &amp; &quot;hard&quot;');
    expect(svg).toContain('&lt;r1&gt; &amp; &quot;x&quot;');
    expect(svg).toContain('a &lt; b &amp;&amp; c &gt; d');
    expect(svg).not.toContain(name);
  });

  it('lists the failed criteria and counts the passed ones under the plot', () => {
    const svg = renderPlotSvg(failingResult());
    expect(svg).toContain('criteria: 1 passed, 2 failed');
    expect(svg).toContain(`✗ trackingErrorMaxMilliDeg: ${TRACKING_FAILURE.message}`);
    expect(svg).toContain('✗ unsafeCommandsMax');
    expect(svg).not.toContain('✗ exclusionTicksMax');
  });

  it('rounds every coordinate to at most one decimal', () => {
    const svg = renderPlotSvg(makeResult());
    const numbers = [...svg.matchAll(/\s(?:x|y|x1|x2|y1|y2|width|height|points)="([^"]*)"/g)].map((m) => m[1] ?? '');
    expect(numbers.length).toBeGreaterThan(100);
    for (const value of numbers) expect(value).not.toMatch(/\.\d\d/);
  });

  it('is byte-identical across renders and across a JSON round trip', () => {
    const result = failingResult();
    const first = renderPlotSvg(result);
    expect(renderPlotSvg(result)).toBe(first);
    expect(renderPlotSvg(JSON.parse(JSON.stringify(result)) as ScenarioResult)).toBe(first);
  });

  it('stays under 1 MB with a bounded point count for 1,000,000 ticks, and keeps a one-tick spike', () => {
    const ticks = 1_000_000;
    const base = makeResult({ ticks });
    const spikeTick = 654_321;
    const [setpoint, measured] = base.series.inputs as [InputSeries, InputSeries];
    const position = measured.values.slice();
    position[spikeTick] = 170_000;
    const svg = renderPlotSvg({ ...base, series: { ...base.series, inputs: [setpoint, { ...measured, values: position }] } });
    expect(Buffer.byteLength(svg, 'utf8')).toBeLessThan(1_000_000);
    expect(checkWellFormed(svg)).toBe('svg');
    const seriesCount = 5 + 3;
    const pointCount = polylinePoints(svg).reduce((sum, run) => sum + run.length, 0);
    expect(pointCount).toBeLessThanOrEqual(seriesCount * 2 * 1200);
    // The spike is the panel's maximum: some position point lies in the top 10 % of the panel.
    const top = Number(attributeOf(svg, 'rect class="panel-position"', 'y'));
    const height = Number(attributeOf(svg, 'rect class="panel-position"', 'height'));
    const highest = Math.min(...polylinePoints(svg, 'position').flat().map((p) => p.y));
    expect(highest).toBeLessThan(top + height * 0.1);
  });

  it('stays under 1 MB in the worst case: noisy series, many replicas, markers, mode flips, criteria', () => {
    const ticks = 4 * 1108 * 3; // several ticks per pixel column, every column with two extremes
    const noisy = (phase: number): (number | null)[] =>
      Array.from({ length: ticks }, (_, tick) => (tick % 97 === phase ? null : ((tick * 7919 + phase * 104_729) % 20_001) - 10_000));
    const replicaCommandMv = Array.from({ length: 12 }, (_, replica) => noisy(replica));
    const markers: Marker[] = Array.from({ length: 1000 }, (_, index) => ({
      tick: (index * 13) % ticks,
      kind: (['faultInjected', 'disturbance', 'replicaExcluded', 'voterDeath'] as const)[index % 4] ?? 'faultInjected',
      replicaIndex: index % 12,
      label: `marker ${index} <&> ${'x'.repeat(60)}`,
      endTick: index % 2 === 0 ? ((index * 13) % ticks) + 5 : null,
    }));
    const modes = ['tmr', 'duplex', 'simplex', 'safe'] as const;
    const base = makeResult({
      name: `n${'<'.repeat(500)}`,
      description: '&'.repeat(2000),
      verdict: 'fail',
      ticks,
      replicaKinds: Array.from({ length: 12 }, (_, index) => `kind-${index}-${'k'.repeat(50)}`),
      criteria: Array.from({ length: 200 }, (_, index) => criterion(`c${index}${'"'.repeat(100)}`, false, index, 0, index)),
      markers,
      modeBands: Array.from({ length: ticks }, (_, tick) => ({ fromTick: tick, toTick: tick + 1, mode: modes[tick % 4] ?? 'tmr' })),
    });
    const [setpoint, measured] = base.series.inputs as [InputSeries, InputSeries];
    const [command, rate] = base.series.outputs as [OutputSeries, OutputSeries];
    const series = {
      ...base.series,
      inputs: [setpoint, { ...measured, values: noisy(50).map((v) => v ?? 0) }],
      outputs: [{ ...command, values: noisy(60), replicas: replicaCommandMv }, { ...rate, replicas: replicaCommandMv }],
    };
    const svg = renderPlotSvg({ ...base, series });
    expect(Buffer.byteLength(svg, 'utf8')).toBeLessThan(1_000_000);
    expect(checkWellFormed(svg)).toBe('svg');
    expect(svg.match(/<g data-series="replica-/g)).toHaveLength(9);
    expect(svg).toContain('3 replicas not drawn');
    expect(svg).toContain('700 markers not drawn');
    expect(svg).toContain('… 180 more failed criteria');
  });

  it('draws an error result with no ticks', () => {
    const svg = renderPlotSvg(errorResult());
    expect(checkWellFormed(svg)).toBe('svg');
    expect(svg).toContain('ERROR');
    expect(svg).toContain('no ticks recorded');
    expect(svg).toContain('error: avr-sim r2 did not start within 5000 ms: ELF not found');
    expect(svg).not.toContain('\u001b');
  });
});

describe('renderPlotSvg for another law than pid-q16 (the tank)', () => {
  it('draws one panel per channel: the tracking pair together, the other input, each output with the replicas under the voted command', () => {
    const svg = renderPlotSvg(tankResult());
    expect(checkWellFormed(svg)).toBe('svg');
    const panels = [...svg.matchAll(/<rect class="panel-([^"]+)"/g)].map((m) => m[1]);
    expect(panels).toEqual(['tracking', 'input-highSwitch', 'output-valvePermille', 'output-pumpOn', 'output-alarm']);
    for (const title of ['levelMm (mm)', 'highSwitch (bool)', 'valvePermille (permille)', 'pumpOn (bool)', 'alarm (bool)']) {
      expect(svg).toMatch(new RegExp(`font-weight="bold" fill="#424a53">${title.replace(/[()]/g, '\\$&')}</text>`));
    }
    // The tracking pair shares a panel: both series lie within its frame.
    const top = Number(attributeOf(svg, 'rect class="panel-tracking"', 'y'));
    const height = Number(attributeOf(svg, 'rect class="panel-tracking"', 'height'));
    for (const id of ['setpoint', 'measured']) {
      const ys = polylinePoints(svg, id).flat().map((p) => p.y);
      expect(ys.length).toBeGreaterThan(0);
      for (const y of ys) expect(y >= top && y <= top + height).toBe(true);
    }
    expect(svg).not.toContain('panel-position');
    expect(svg).not.toContain('applied voltage');
  });

  it("gives a channel that never changes (the alarm, the float switch) its declared range as the axis", () => {
    const svg = renderPlotSvg(tankResult());
    const labels = (panel: string): string[] => {
      const top = Number(attributeOf(svg, `rect class="panel-${panel}"`, 'y'));
      const height = Number(attributeOf(svg, `rect class="panel-${panel}"`, 'height'));
      return [...svg.matchAll(/<text x="71" y="([\d.]+)" dy="3.5" text-anchor="end" fill="#424a53">([^<]*)<\/text>/g)]
        .filter((m) => Number(m[1]) >= top && Number(m[1]) <= top + height)
        .map((m) => m[2] ?? '');
    };
    for (const panel of ['input-highSwitch', 'output-alarm']) {
      expect(labels(panel).at(0)).toBe('0.0');
      expect(labels(panel).at(-1)).toBe('1.0');
    }
  });

  it('names the channels in the legend once each, and the law and plant in the subtitle', () => {
    const svg = renderPlotSvg(tankResult());
    for (const text of ['levelSetpointMm (setpoint)', 'levelMm (measured)', 'highSwitch', 'voted command', 'r0 sim output', 'r1 sim output', 'r2 sim output']) {
      expect(svg.split(`>${text}</text>`)).toHaveLength(2);
    }
    expect(svg).toContain('law tank v1 on plant tank');
    expect(renderPlotSvg(makeResult())).toContain('law pid-q16 v2 on plant motor');
  });

  it("draws an excluded replica's outputs as gaps on every output panel", () => {
    const svg = renderPlotSvg(tankResult());
    for (const channel of ['valvePermille', 'pumpOn', 'alarm']) {
      expect(polylinePoints(svg, `replica-1-${channel}`).map((run) => run.length)).toEqual([103]);
      expect(polylinePoints(svg, `replica-0-${channel}`)).toHaveLength(1);
      expect(polylinePoints(svg, `command-${channel}`).map((run) => run.length)).toEqual([300]);
    }
  });

  it('stays under 1 MB with the most channels a law may have, fifteen replicas and noisy series, leaving replicas out first', () => {
    const ticks = 4 * 1108 * 3;
    const noisy = (phase: number): (number | null)[] =>
      Array.from({ length: ticks }, (_, tick) => (tick % 97 === phase ? null : ((tick * 7919 + phase * 104_729) % 20_001) - 10_000));
    const inputs = Array.from({ length: 8 }, (_, i) => ({ name: `in${i}`, unit: 'u', min: -10_000, max: 10_000, values: noisy(i).map((v) => v ?? 0) }));
    const outputs = Array.from({ length: 8 }, (_, c) => ({
      name: `out${c}`,
      unit: 'u',
      min: -10_000,
      max: 10_000,
      values: noisy(20 + c),
      replicas: Array.from({ length: 15 }, (_, r) => noisy(40 + r)),
    }));
    const modes = ['tmr', 'duplex', 'simplex', 'safe'] as const;
    const result = tankResult({
      ticks,
      tracking: { setpoint: 'in0', measured: 'in1', unit: 'u' },
      replicaKinds: Array.from({ length: 15 }, () => 'node'),
      series: { inputs, outputs },
      modeBands: Array.from({ length: ticks }, (_, tick) => ({ fromTick: tick, toTick: tick + 1, mode: modes[tick % 4] ?? 'tmr' })),
      markers: Array.from({ length: 1000 }, (_, index) => ({ tick: (index * 13) % ticks, kind: 'faultInjected' as const, replicaIndex: index % 15, label: `m${index}`, endTick: null })),
    });
    const svg = renderPlotSvg(result);
    expect(Buffer.byteLength(svg, 'utf8')).toBeLessThan(1_000_000);
    expect(checkWellFormed(svg)).toBe('svg');
    expect(svg.match(/<rect class="panel-/g)).toHaveLength(1 + 6 + 8);
    expect(svg.match(/<g data-series="/g)!.length).toBeLessThanOrEqual(24);
    expect(svg).toContain('outputs of 14 replicas not drawn');
  });
});

describe('the text reports for another law than pid-q16 (the tank)', () => {
  const failing = tankResult({
    verdict: 'fail',
    criteria: [
      criterion('detectionLatencyTicksMax (faults[0] wrong → r1)', true, 2, 3, 102),
      {
        name: 'trackingError.maxAbs',
        passed: false,
        measured: 140,
        bound: 40,
        tick: 850,
        message: 'trackingError.maxAbs: |levelSetpointMm − levelMm| reached 140 mm at tick 850, 100 mm over the bound 40 mm (ticks 850..999)',
      },
    ],
  });

  it('JUnit names the failed tracking criterion in the plant\'s unit', () => {
    const xml = junitXml([tankResult(), failing], 'hil');
    expect(checkWellFormed(xml)).toBe('testsuites');
    expect(xml).toContain('tests="2" failures="1" errors="0"');
    expect(attributeOf(xml, 'failure', 'message')).toContain('|levelSetpointMm − levelMm| reached 140 mm at tick 850');
    expect(xml).toContain('300 ticks at 50 Hz (6 s plant time), replicas sim, sim, sim');
  });

  it('the verdict table gives the tank rows like any other', () => {
    const lines = formatVerdictTable([tankResult(), failing]).trimEnd().split('\n');
    expect(lines[2]).toMatch(/^tank-wrong\s+PASS\s+300\s+50\s+sim,sim,sim/);
    expect(lines[3]).toMatch(/^tank-wrong\s+FAIL .*trackingError\.maxAbs: \|levelSetpointMm − levelMm\| reached 140 mm/);
    expect(lines.at(-1)).toBe('1 passed, 1 failed, 0 errors');
  });
});

// ---------------------------------------------------------------------------------------------

describe('junitXml', () => {
  const results = [makeResult(), failingResult(), errorResult()];

  it('is well-formed with the right counts', () => {
    const xml = junitXml(results, 'hil');
    expect(checkWellFormed(xml)).toBe('testsuites');
    expect(xml.match(/<testsuite /g)).toHaveLength(1);
    expect(xml.match(/<testcase /g)).toHaveLength(3);
    expect(xml).toContain('<testsuite name="hil" tests="3" failures="1" errors="1" time="7.480"');
    expect(xml).toContain('<testcase classname="hil" name="r1-wrong-output" file="hil/scenarios/r1-wrong-output.json" time="1.234">');
  });

  it('names the first failed criterion with its measured value, bound and tick, and lists all', () => {
    const xml = junitXml(results, 'hil');
    const message = attributeOf(xml, 'failure', 'message') ?? '';
    expect(message).toContain('trackingErrorMaxMilliDeg');
    expect(message).toContain('5123');
    expect(message).toContain('2000');
    expect(message).toContain('tick 417');
    expect(message).toContain('1 more failed');
    const body = /<failure[^>]*>([^<]*)<\/failure>/.exec(xml)?.[1] ?? '';
    const lines = body.split('\n');
    expect(lines[0]).toMatch(/^trackingErrorMaxMilliDeg: /);
    expect(lines[1]).toMatch(/^unsafeCommandsMax: .*tick 512/);
    expect(body).toContain('seed 42');
    expect(xml.match(/<failure /g)).toHaveLength(1);
  });

  it('gives an error element for verdict error, and none for a pass', () => {
    const xml = junitXml(results, 'hil');
    expect(xml.match(/<error /g)).toHaveLength(1);
    expect(attributeOf(xml, 'error', 'message')).toBe('avr-sim r2 did not start within 5000 ms: ELF not found');
    expect(junitXml([makeResult()], 'hil')).not.toMatch(/<failure|<error/);
  });

  it('puts a one-line run summary in system-out', () => {
    const xml = junitXml([makeResult()], 'hil');
    const out = /<system-out>([^<]*)<\/system-out>/.exec(xml)?.[1] ?? '';
    expect(out).not.toContain('\n');
    for (const text of ['600 ticks', '100 Hz', 'node, sim-board, avr-sim', 'simulated time', '×4.86 real time']) {
      expect(out).toContain(text);
    }
  });

  it('escapes markup, quotes and control characters XML 1.0 forbids', () => {
    const nasty = makeResult({ name: 'a<b>&"c"\u0007\u0000', verdict: 'error', error: 'bad\u0001 "x" <y> & z\n at line 2' });
    const xml = junitXml([nasty], 'suite & "co" <1>');
    expect(checkWellFormed(xml)).toBe('testsuites');
    expect(xml).toContain('name="a&lt;b&gt;&amp;&quot;c&quot;\uFFFD\uFFFD"');
    expect(xml).toContain('name="suite &amp; &quot;co&quot; &lt;1&gt;"');
    expect(xml).toContain('message="bad\uFFFD &quot;x&quot; &lt;y&gt; &amp; z  at line 2"');
    expect(xml).not.toMatch(/[\u0000-\u0008]/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('formatVerdictTable', () => {
  const results = [makeResult(), failingResult(), errorResult()];

  it('has a header, one row per result and the totals line last', () => {
    const lines = formatVerdictTable(results).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^scenario\s+verdict\s+ticks\s+rate Hz\s+replicas\s+wall\s+×real\s+first failure$/);
    for (const result of results) expect(lines.filter((line) => line.startsWith(`${result.name} `))).toHaveLength(1);
    expect(lines.at(-1)).toBe('1 passed, 1 failed, 1 error');
    expect(lines).toContain('replicas: N node, SB sim-board, AVR avr-sim');
  });

  it('aligns the columns and stays within 140 columns, cutting the first failure with …', () => {
    const long = failingResult();
    const longFailure = { ...TRACKING_FAILURE, message: `tracking error ${'very '.repeat(40)}large at tick 417` };
    const text = formatVerdictTable([makeResult(), { ...long, criteria: [longFailure] }, errorResult()]);
    const lines = text.trimEnd().split('\n');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(140);
    const rows = lines.slice(2, 5);
    const verdictColumn = lines[0]?.indexOf('verdict');
    for (const row of rows) expect(row.slice(verdictColumn).match(/^(PASS|FAIL|ERROR) /)).not.toBeNull();
    expect(rows[1]).toMatch(/tracking error very .*…$/);
    expect(rows[1]).toContain('N,SB,AVR');
    expect(rows[1]).toContain('1.2 s');
    expect(rows[2]).toContain('error: avr-sim r2 did not start');
    expect(rows[0]?.trimEnd().endsWith('×4.86')).toBe(true);
  });

  it('lets no control character through to the terminal', () => {
    const text = formatVerdictTable([makeResult({ name: 'x\u001b[2Jy\u0007', verdict: 'error', error: 'boom\r\nagain' })]);
    expect(text).not.toMatch(/[\u0000-\u0009\u000B-\u001F]/);
    expect(text).toContain('boom again');
    expect(text.trimEnd().split('\n').at(-1)).toBe('0 passed, 0 failed, 1 error');
  });

  it('counts an empty list', () => {
    expect(formatVerdictTable([]).trimEnd().split('\n').at(-1)).toBe('0 passed, 0 failed, 0 errors');
  });
});
