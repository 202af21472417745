/**
 * The plot of one HIL scenario run as a self-contained SVG: title line, the panels, mode strip,
 * markers across all of them, legend and the failed criteria. Drawn from the ScenarioResult
 * alone, so a plot can be redrawn from the JSON result file.
 *
 * Panels: on the motor plant, position (setpoint, measured and true shaft) and command (voted,
 * applied voltage, each replica's output). On any other plant, one panel per channel of the law:
 * the tracking pair together (setpoint dashed, measured), each other input, then each output
 * (the voter's command and each replica's output), in the channels' own units.
 *
 * Size is bounded whatever the run's length: each series is reduced to one column per pixel
 * keeping the column's min and max (a one-tick spike survives), so a series draws at most
 * 2 × COLUMN_COUNT_MAX points; at most SERIES_DRAWN_MAX series on another plant (replicas' outputs
 * give way first); markers, replicas, criteria and every text are capped too.
 * Output is a pure function of the input: no dates, no randomness, coordinates to 0.1 px.
 */
import { assert, fail } from '../../src/core/assert.js';
import type { Mode } from '../../src/core/degradation.js';
import type { Marker, MarkerKind, ModeBand, ScenarioResult, Verdict } from '../result.js';
import {
  escapeXmlText,
  formatCount,
  formatPlantSeconds,
  formatRealTimeFactor,
  oneLine,
  truncateText,
} from './report-text.js';

const SVG_WIDTH_PX = 1200;
const PLOT_LEFT_PX = 76;
const PLOT_RIGHT_PX = 1184;
const PLOT_WIDTH_PX = PLOT_RIGHT_PX - PLOT_LEFT_PX;
/** One column per pixel: a series draws at most 2 points per column (its min and max). */
const COLUMN_COUNT_MAX = PLOT_WIDTH_PX;
const PANEL_HEIGHT_PX = 210;
/** A panel of one channel other than the tracking pair (another plant than the motor). */
const CHANNEL_PANEL_HEIGHT_PX = 150;
/** Another plant: series drawn at most (each up to 2 × COLUMN_COUNT_MAX points), so the SVG stays under SVG_BYTES_MAX. */
const SERIES_DRAWN_MAX = 24;
/** Width of one character of the 11 px bold panel title, for fitting it along its panel. */
const TITLE_CHAR_PX = 6.2;
const PANEL_GAP_PX = 12;
const MODE_STRIP_HEIGHT_PX = 22;
const LABEL_TOP_PX = 50;
const LABEL_ROW_HEIGHT_PX = 13;
const LABEL_ROW_COUNT_MAX = 5;
const LABEL_LENGTH_MAX = 36;
/** Width of one character of the 10 px monospace label font, for overlap estimates. */
const LABEL_CHAR_PX = 6.1;
/** Width of one character of the 11 px monospace font (mode names, criteria, legend). */
const MONO_CHAR_PX = 6.7;
const MARKER_DRAWN_MAX = 300;
const REPLICA_DRAWN_MAX = 9;
const CRITERIA_LINES_MAX = 20;
const CRITERION_LINE_LENGTH_MAX = 160;
const TITLE_NAME_LENGTH_MAX = 80;
const SUBTITLE_LENGTH_MAX = 170;
const TIME_TICK_TARGET_COUNT = 12;
const VALUE_TICK_TARGET_COUNT = 6;
/** The SVG stays below this whatever the run's length (asserted on exit). */
const SVG_BYTES_MAX = 1_000_000;
const FONT_MONO = 'DejaVu Sans Mono, Menlo, Consolas, monospace';

const VERDICT_COLOUR: Record<Verdict, string> = { pass: '#1a7f37', fail: '#cf222e', error: '#9a6700' };

interface ModeStyle {
  readonly fill: string;
  readonly text: string;
  /** Severity: a pixel column spanning two modes shows the more degraded one. */
  readonly rank: number;
}
const MODE_STYLE: Record<Mode, ModeStyle> = {
  tmr: { fill: '#2da44e', text: '#ffffff', rank: 0 },
  duplex: { fill: '#d4a72c', text: '#1f2328', rank: 1 },
  simplex: { fill: '#e16f24', text: '#ffffff', rank: 2 },
  safe: { fill: '#cf222e', text: '#ffffff', rank: 3 },
};
const MODES_BY_RANK: readonly Mode[] = ['tmr', 'duplex', 'simplex', 'safe'];

interface MarkerStyle {
  readonly stroke: string;
  readonly widthPx: number;
  readonly dash: string | null;
  readonly legend: string;
  /** Fill of the interval [tick, endTick] when the marker has an endTick; null: no interval. */
  readonly shade: string | null;
  /** Lower is kept first when there are more than MARKER_DRAWN_MAX markers. */
  readonly priority: number;
}
const MARKER_STYLE: Record<MarkerKind, MarkerStyle> = {
  voterDeath: { stroke: '#000000', widthPx: 3, dash: null, legend: 'voter death', shade: null, priority: 0 },
  actuatorSafe: { stroke: '#8250df', widthPx: 1.6, dash: null, legend: 'actuator safe', shade: null, priority: 1 },
  replicaExcluded: { stroke: '#24292f', widthPx: 1.4, dash: null, legend: 'replica excluded', shade: null, priority: 2 },
  replicaReadmitted: { stroke: '#1a7f37', widthPx: 1.4, dash: null, legend: 'replica re-admitted', shade: null, priority: 2 },
  faultInjected: { stroke: '#cf222e', widthPx: 1.2, dash: '5 3', legend: 'fault injected', shade: '#ff8182', priority: 3 },
  faultEnded: { stroke: '#cf222e', widthPx: 1, dash: '2 3', legend: 'fault ended', shade: null, priority: 4 },
  disturbance: { stroke: '#6e7781', widthPx: 1, dash: '3 3', legend: 'disturbance', shade: '#8c959f', priority: 5 },
  inputFault: { stroke: '#bc4c00', widthPx: 1.4, dash: '1 2', legend: 'input fault (held)', shade: '#fb8f44', priority: 2 },
};
const MARKER_KINDS: readonly MarkerKind[] = [
  'faultInjected',
  'faultEnded',
  'replicaExcluded',
  'replicaReadmitted',
  'disturbance',
  'inputFault',
  'voterDeath',
  'actuatorSafe',
];
const SHADE_OPACITY = 0.18;

interface LineStyle {
  readonly stroke: string;
  readonly widthPx: number;
  readonly dash: string | null;
  readonly opacity: number;
}
const SETPOINT_STYLE: LineStyle = { stroke: '#6e7781', widthPx: 1.3, dash: '6 3', opacity: 1 };
const POSITION_STYLE: LineStyle = { stroke: '#0969da', widthPx: 1.4, dash: null, opacity: 1 };
const TRUE_POSITION_STYLE: LineStyle = { stroke: '#8250df', widthPx: 1, dash: '2 2', opacity: 0.9 };
const COMMAND_STYLE: LineStyle = { stroke: '#1f2328', widthPx: 1.6, dash: null, opacity: 1 };
const APPLIED_STYLE: LineStyle = { stroke: '#0969da', widthPx: 1.2, dash: '4 2', opacity: 1 };
const INPUT_STYLE: LineStyle = { stroke: '#116329', widthPx: 1.2, dash: null, opacity: 1 };
const REPLICA_COLOURS: readonly string[] = [
  '#e69f00',
  '#009e73',
  '#cc79a7',
  '#56b4e9',
  '#d55e00',
  '#7a5c00',
  '#8250df',
  '#57606a',
  '#bf3989',
];

/** A pixel column of a series: its extremes, in the order they occurred. null: no value in it. */
interface Column {
  readonly lo: number;
  readonly hi: number;
  readonly loFirst: boolean;
}
type Columns = readonly (Column | null)[];

interface XScale {
  readonly ticks: number;
  readonly rateHz: number;
  readonly columnCount: number;
}

/** Raw units (milliDeg, mV) mapped to pixels; `divisor` turns them into display units. */
interface YScale {
  readonly lo: number;
  readonly hi: number;
  readonly topPx: number;
  readonly bottomPx: number;
  readonly divisor: number;
}

interface Series {
  readonly id: string;
  readonly legend: string;
  readonly columns: Columns;
  readonly style: LineStyle;
}

interface Panel {
  readonly id: string;
  readonly title: string;
  readonly y: YScale;
  readonly series: readonly Series[];
}

/** A panel before it is placed: what it draws and how tall it is. */
interface PanelSpec {
  readonly id: string;
  readonly title: string;
  readonly series: readonly Series[];
  /** Raw units per display unit (m° → °, mV → V: 1000; a law's channel: 1). */
  readonly divisor: number;
  readonly heightPx: number;
  /** The channel's declared range: the axis when every value is the same (an alarm never raised). */
  readonly declared?: { readonly min: number; readonly max: number };
}

interface Layout {
  /** Top of each panel, in order; the first is the top of the plot area. */
  readonly panelTopsPx: readonly number[];
  readonly modeTopPx: number;
  readonly axisTopPx: number;
  readonly legendTopPx: number;
}

interface PlacedMarker {
  readonly marker: Marker;
  readonly xPx: number;
  readonly row: number;
  readonly text: string;
  readonly anchorEnd: boolean;
}

/** The plot of one scenario run; see the file comment. Same input, same bytes. */
export function renderPlotSvg(result: ScenarioResult): string {
  checkResult(result);
  const scale: XScale = { ticks: result.ticks, rateHz: result.rateHz, columnCount: Math.min(result.ticks, COLUMN_COUNT_MAX) };
  const { markers, droppedCount } = markersToDraw(result.markers);
  const placed = placeLabels(markers, scale);
  const specs = result.series.motor === undefined ? channelPanels(result, scale) : motorPanels(result, scale);
  const layout = layoutFor(placed.reduce((rows, p) => Math.max(rows, p.row + 1), 1), specs.panels.map((p) => p.heightPx));
  const panels = specs.panels.map((spec, i): Panel => ({ id: spec.id, title: spec.title, series: spec.series, y: yScaleFor(spec, layout.panelTopsPx[i] as number) }));
  const timeTicks = timeAxisTicks(result);
  const parts: string[] = [...titleLines(result, droppedCount, specs.notes)];
  for (const panel of panels) parts.push(...panelFrame(panel, scale, timeTicks));
  parts.push(...markerShading(markers, scale, layout));
  for (const panel of panels) for (const series of panel.series) parts.push(...seriesGroup(series, scale, panel.y));
  parts.push(...modeStrip(result.modeBands, scale, layout));
  parts.push(...timeAxis(scale, timeTicks, layout));
  parts.push(...markerLines(placed, layout));
  const legend = legendBlock(panels, markers, result.modeBands, layout.legendTopPx);
  parts.push(...legend.parts);
  const box = criteriaBox(result, layout.legendTopPx + legend.heightPx + 8);
  parts.push(...box.parts);
  const heightPx = Math.ceil(layout.legendTopPx + legend.heightPx + 8 + box.heightPx + 12);
  const title = `${truncateText(oneLine(result.name), TITLE_NAME_LENGTH_MAX)} — ${result.verdict}`;
  const svg = [svgOpen(heightPx), `<title>${escapeXmlText(title)}</title>`]
    .concat(parts, ['</svg>', ''])
    .join('\n');
  assert(Buffer.byteLength(svg, 'utf8') < SVG_BYTES_MAX, `renderPlotSvg: ${svg.length} chars, over the size limit`);
  return svg;
}

/** The invariants the plot relies on (result.ts promises them; a breach is a bench bug). */
function checkResult(result: ScenarioResult): void {
  const { ticks, rateHz, series } = result;
  assert(Number.isInteger(ticks) && ticks >= 0, `renderPlotSvg: ticks ${ticks} not a count`);
  assert(Number.isFinite(rateHz) && rateHz > 0, `renderPlotSvg: rateHz ${rateHz} not positive`);
  assert(series.inputs.length >= 1 && series.outputs.length >= 1, 'renderPlotSvg: a law has at least one input and one output channel');
  const arrays: readonly (readonly unknown[])[] = [
    ...series.inputs.map((c) => c.values),
    ...series.outputs.flatMap((c) => [c.values, ...c.replicas]),
    ...(series.motor === undefined ? [] : [series.motor.truePositionMilliDeg, series.motor.appliedMv]),
  ];
  for (const values of arrays) {
    assert(values.length === ticks, `renderPlotSvg: a series has ${values.length} entries, ticks is ${ticks}`);
  }
  let previousToTick = Number.NEGATIVE_INFINITY;
  for (const band of result.modeBands) {
    assert(band.fromTick <= band.toTick, `renderPlotSvg: mode band ${band.fromTick}..${band.toTick} reversed`);
    assert(band.fromTick >= previousToTick, `renderPlotSvg: mode band at ${band.fromTick} overlaps the previous`);
    previousToTick = band.toTick;
  }
}

function layoutFor(labelRowCount: number, panelHeightsPx: readonly number[]): Layout {
  const panelTopsPx: number[] = [];
  let topPx = LABEL_TOP_PX + labelRowCount * LABEL_ROW_HEIGHT_PX + 4;
  for (const [i, heightPx] of panelHeightsPx.entries()) {
    if (i > 0) topPx += PANEL_GAP_PX;
    panelTopsPx.push(topPx);
    topPx += heightPx;
  }
  const modeTopPx = topPx + 6;
  const axisTopPx = modeTopPx + MODE_STRIP_HEIGHT_PX;
  return { panelTopsPx, modeTopPx, axisTopPx, legendTopPx: axisTopPx + 38 };
}

function svgOpen(heightPx: number): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SVG_WIDTH_PX}" height="${heightPx}" ` +
    `viewBox="0 0 ${SVG_WIDTH_PX} ${heightPx}" font-family="Helvetica, Arial, sans-serif" font-size="11">\n` +
    `<rect x="0" y="0" width="${SVG_WIDTH_PX}" height="${heightPx}" fill="#ffffff"/>`
  );
}

/** A coordinate to at most one decimal, never '-0'. */
function px(value: number): string {
  if (!Number.isFinite(value)) fail(`renderPlotSvg: non-finite coordinate ${value}`);
  const rounded = Math.round(value * 10) / 10;
  return rounded === 0 ? '0' : String(rounded);
}

function dashAttr(dash: string | null): string {
  return dash === null ? '' : ` stroke-dasharray="${dash}"`;
}

function xOfTick(scale: XScale, tick: number): number {
  const clamped = Math.min(Math.max(tick, 0), scale.ticks);
  return PLOT_LEFT_PX + (clamped * PLOT_WIDTH_PX) / Math.max(scale.ticks, 1);
}

function xOfColumnEdge(scale: XScale, column: number): number {
  return PLOT_LEFT_PX + (column * PLOT_WIDTH_PX) / Math.max(scale.columnCount, 1);
}

function yOf(y: YScale, value: number): number {
  return y.bottomPx - ((value - y.lo) * (y.bottomPx - y.topPx)) / (y.hi - y.lo);
}

// ---------------------------------------------------------------------------------------------
// Title

function titleLines(result: ScenarioResult, droppedMarkerCount: number, notes: readonly string[]): string[] {
  const verdict = result.verdict.toUpperCase();
  const facts = [
    `seed ${result.seed}`,
    `${result.rateHz} Hz`,
    `replicas ${result.replicaKinds.join(', ') || 'none'}`,
    `${result.timeBase} time`,
    `${formatRealTimeFactor(result.realTimeFactor)} real time`,
  ].join(' · ');
  const subtitleParts = [
    `${formatCount(result.ticks)} ticks (${formatPlantSeconds(result.ticks, result.rateHz)} s)`,
    `law ${result.law.name} v${result.law.version} on plant ${result.plant}`,
  ];
  if (droppedMarkerCount > 0) subtitleParts.push(`${droppedMarkerCount} markers not drawn`);
  subtitleParts.push(...notes);
  subtitleParts.push(oneLine(result.description));
  const subtitle = truncateText(subtitleParts.join(' · '), SUBTITLE_LENGTH_MAX);
  return [
    `<text x="12" y="22" font-size="16" font-weight="bold" fill="#1f2328">` +
      `${escapeXmlText(truncateText(oneLine(result.name), TITLE_NAME_LENGTH_MAX))}` +
      `<tspan fill="${VERDICT_COLOUR[result.verdict]}" dx="10">${verdict}</tspan>` +
      `<tspan font-size="12" font-weight="normal" fill="#424a53" dx="12">${escapeXmlText(truncateText(facts, 200))}</tspan></text>`,
    `<text x="12" y="40" font-size="11" fill="#57606a">${escapeXmlText(subtitle)}</text>`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Series: per-pixel min/max columns and polylines

function downsample(values: readonly (number | null)[], columnCount: number): Columns {
  const tickCount = values.length;
  const columns: (Column | null)[] = [];
  for (let column = 0; column < columnCount; column++) {
    const fromTick = Math.floor((column * tickCount) / columnCount);
    const toTick = Math.floor(((column + 1) * tickCount) / columnCount);
    columns.push(columnExtremes(values, fromTick, toTick));
  }
  return columns;
}

function columnExtremes(values: readonly (number | null)[], fromTick: number, toTick: number): Column | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let loTick = -1;
  let hiTick = -1;
  for (let tick = fromTick; tick < toTick; tick++) {
    const value = values[tick];
    if (value === null || value === undefined) continue;
    if (!Number.isFinite(value)) fail(`renderPlotSvg: non-finite series value ${value} at tick ${tick}`);
    if (value < lo) [lo, loTick] = [value, tick];
    if (value > hi) [hi, hiTick] = [value, tick];
  }
  return loTick < 0 ? null : { lo, hi, loFirst: loTick <= hiTick };
}

/**
 * The series as a group of polylines, one per run of columns with values: a null column is a gap,
 * never a zero. The style sits on the group, so a gap costs a few bytes.
 */
function seriesGroup(series: Series, scale: XScale, y: YScale): string[] {
  const elements: string[] = [];
  let run: string[] = [];
  const flush = (): void => {
    const first = run[0];
    if (first === undefined) return;
    if (run.length === 1) run.push(first); // a lone value: a zero-length line with round caps, a dot
    elements.push(`<polyline points="${run.join(' ')}"/>`);
    run = [];
  };
  series.columns.forEach((column, index) => {
    if (column === null) {
      flush();
      return;
    }
    const x = px((xOfColumnEdge(scale, index) + xOfColumnEdge(scale, index + 1)) / 2);
    const [first, second] = column.loFirst ? [column.lo, column.hi] : [column.hi, column.lo];
    run.push(`${x},${px(yOf(y, first))}`);
    if (second !== first) run.push(`${x},${px(yOf(y, second))}`);
  });
  flush();
  if (elements.length === 0) return [];
  const { stroke, widthPx, dash, opacity } = series.style;
  const opacityAttr = opacity < 1 ? ` stroke-opacity="${opacity}"` : '';
  const open =
    `<g data-series="${series.id}" fill="none" stroke="${stroke}" stroke-width="${widthPx}"${dashAttr(dash)}` +
    `${opacityAttr} stroke-linecap="round" stroke-linejoin="round">`;
  return [open, ...elements, '</g>'];
}

// ---------------------------------------------------------------------------------------------
// Panels

/** What the plot draws: its panels, and what it had to leave out (for the subtitle). */
interface PanelPlan {
  readonly panels: readonly PanelSpec[];
  readonly notes: readonly string[];
}

/** pid-q16 on the motor plant: position and command, in degrees and volts. */
function motorPanels(result: ScenarioResult, scale: XScale): PanelPlan {
  return { panels: [positionPanel(result, scale), commandPanel(result, scale)], notes: [] };
}

function channel<T extends { readonly name: string }>(channels: readonly T[], name: string): T {
  const found = channels.find((c) => c.name === name);
  assert(found !== undefined, `renderPlotSvg: no channel ${name} in the result`);
  return found;
}

function positionPanel(result: ScenarioResult, scale: XScale): PanelSpec {
  const { inputs, motor } = result.series;
  assert(motor !== undefined, 'renderPlotSvg: a motor plot needs the motor series');
  const series: Series[] = [
    { id: 'setpoint', legend: 'setpoint', columns: downsample(channel(inputs, 'setpointMilliDeg').values, scale.columnCount), style: SETPOINT_STYLE },
    { id: 'position', legend: 'position (measured)', columns: downsample(channel(inputs, 'positionMilliDeg').values, scale.columnCount), style: POSITION_STYLE },
    // The shaft's true position: differs from the reading under sensor noise and glitches.
    { id: 'true-position', legend: 'position (true shaft)', columns: downsample(motor.truePositionMilliDeg, scale.columnCount), style: TRUE_POSITION_STYLE },
  ];
  return { id: 'position', title: 'position (deg)', series, divisor: 1000, heightPx: PANEL_HEIGHT_PX };
}

function replicaSeries(result: ScenarioResult, replicas: readonly (readonly (number | null)[])[], scale: XScale, idOf: (replicaIndex: number) => string): Series[] {
  return replicas.map((values, replicaIndex) => ({
    id: idOf(replicaIndex),
    legend: `r${replicaIndex} ${result.replicaKinds[replicaIndex] ?? 'replica'} output`,
    columns: downsample(values, scale.columnCount),
    style: { stroke: REPLICA_COLOURS[replicaIndex % REPLICA_COLOURS.length] ?? '#57606a', widthPx: 0.9, dash: null, opacity: 0.9 },
  }));
}

function commandPanel(result: ScenarioResult, scale: XScale): PanelSpec {
  const { outputs, motor } = result.series;
  assert(motor !== undefined, 'renderPlotSvg: a motor plot needs the motor series');
  const command = channel(outputs, 'commandMv');
  const replicas = command.replicas.slice(0, REPLICA_DRAWN_MAX);
  const series = replicaSeries(result, replicas, scale, (i) => `replica-${i}`);
  series.push(
    { id: 'applied', legend: 'applied voltage', columns: downsample(motor.appliedMv, scale.columnCount), style: APPLIED_STYLE },
    { id: 'command', legend: 'voted command', columns: downsample(command.values, scale.columnCount), style: COMMAND_STYLE },
  );
  const notDrawn = command.replicas.length - replicas.length;
  const title = notDrawn > 0 ? `command (V), ${notDrawn} replicas not drawn` : 'command (V)';
  return { id: 'command', title, series, divisor: 1000, heightPx: PANEL_HEIGHT_PX };
}

/**
 * Any other plant: the tracking pair in one panel, each other input in its own, then each output
 * with the voter's command over the replicas' outputs. Replicas' outputs are drawn while the
 * series budget lasts (the same number on every output panel).
 */
function channelPanels(result: ScenarioResult, scale: XScale): PanelPlan {
  const { inputs, outputs } = result.series;
  const { setpoint, measured, unit } = result.tracking;
  const others = inputs.filter((c) => c.name !== setpoint && c.name !== measured);
  const panels: PanelSpec[] = [{
    id: 'tracking',
    title: `${measured} (${unit})`,
    series: [
      { id: 'setpoint', legend: `${setpoint} (setpoint)`, columns: downsample(channel(inputs, setpoint).values, scale.columnCount), style: SETPOINT_STYLE },
      { id: 'measured', legend: `${measured} (measured)`, columns: downsample(channel(inputs, measured).values, scale.columnCount), style: POSITION_STYLE },
    ],
    divisor: 1,
    heightPx: PANEL_HEIGHT_PX,
  }];
  for (const input of others) {
    const series: Series[] = [{ id: `input-${input.name}`, legend: input.name, columns: downsample(input.values, scale.columnCount), style: INPUT_STYLE }];
    panels.push({ id: `input-${input.name}`, title: `${input.name} (${input.unit})`, series, divisor: 1, heightPx: CHANNEL_PANEL_HEIGHT_PX, declared: input });
  }
  const budget = SERIES_DRAWN_MAX - 2 - others.length - outputs.length;
  const replicaCount = outputs[0]?.replicas.length ?? 0;
  const replicasDrawn = Math.max(0, Math.min(REPLICA_DRAWN_MAX, replicaCount, Math.floor(budget / Math.max(outputs.length, 1))));
  for (const output of outputs) {
    const series = replicaSeries(result, output.replicas.slice(0, replicasDrawn), scale, (i) => `replica-${i}-${output.name}`);
    series.push({ id: `command-${output.name}`, legend: 'voted command', columns: downsample(output.values, scale.columnCount), style: COMMAND_STYLE });
    panels.push({ id: `output-${output.name}`, title: `${output.name} (${output.unit})`, series, divisor: 1, heightPx: CHANNEL_PANEL_HEIGHT_PX, declared: output });
  }
  const notes = replicasDrawn < replicaCount ? [`outputs of ${replicaCount - replicasDrawn} replicas not drawn`] : [];
  return { panels, notes };
}

/** The value range of all series, padded by 5 %; [-1, 1] display units when there is no value. */
function yScaleFor(spec: PanelSpec, topPx: number): YScale {
  const { series, heightPx, divisor, declared } = spec;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const { columns } of series) {
    for (const column of columns) {
      if (column === null) continue;
      lo = Math.min(lo, column.lo);
      hi = Math.max(hi, column.hi);
    }
  }
  if (lo > hi) [lo, hi] = [-divisor, divisor];
  else if (lo === hi && declared !== undefined && declared.min < declared.max && declared.min <= lo && hi <= declared.max) [lo, hi] = [declared.min, declared.max];
  const padding = hi > lo ? (hi - lo) * 0.05 : divisor;
  return { lo: lo - padding, hi: hi + padding, topPx, bottomPx: topPx + heightPx, divisor };
}

function panelFrame(panel: Panel, scale: XScale, timeTicks: NiceTicks): string[] {
  const { y } = panel;
  const parts = [
    `<rect class="panel-${panel.id}" x="${PLOT_LEFT_PX}" y="${px(y.topPx)}" width="${PLOT_WIDTH_PX}" ` +
      `height="${px(y.bottomPx - y.topPx)}" fill="#ffffff" stroke="#d0d7de"/>`,
  ];
  for (const seconds of timeTicks.values) {
    const x = px(xOfTick(scale, seconds * scale.rateHz));
    parts.push(`<line x1="${x}" y1="${px(y.topPx)}" x2="${x}" y2="${px(y.bottomPx)}" stroke="#eaeef2"/>`);
  }
  const valueTicks = niceTicks(y.lo / y.divisor, y.hi / y.divisor, VALUE_TICK_TARGET_COUNT);
  for (const value of valueTicks.values) {
    const yPx = px(yOf(y, value * y.divisor));
    const stroke = value === 0 ? '#afb8c1' : '#eaeef2';
    parts.push(`<line x1="${PLOT_LEFT_PX}" y1="${yPx}" x2="${PLOT_RIGHT_PX}" y2="${yPx}" stroke="${stroke}"/>`);
    parts.push(
      `<text x="${PLOT_LEFT_PX - 5}" y="${yPx}" dy="3.5" text-anchor="end" fill="#424a53">${value.toFixed(valueTicks.decimals)}</text>`,
    );
  }
  const midPx = px((y.topPx + y.bottomPx) / 2);
  parts.push(
    `<text x="16" y="${midPx}" transform="rotate(-90 16 ${midPx})" text-anchor="middle" font-weight="bold" ` +
      `fill="#424a53">${escapeXmlText(truncateText(panel.title, Math.floor((y.bottomPx - y.topPx) / TITLE_CHAR_PX)))}</text>`,
  );
  if (scale.ticks === 0) {
    parts.push(`<text x="${px(PLOT_LEFT_PX + PLOT_WIDTH_PX / 2)}" y="${midPx}" text-anchor="middle" fill="#57606a">no ticks recorded</text>`);
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Axis ticks

interface NiceTicks {
  readonly values: readonly number[];
  readonly decimals: number;
}

/** Round values (1, 2 or 5 × 10^k apart) inside [lo, hi]; about targetCount of them. */
function niceTicks(lo: number, hi: number, targetCount: number): NiceTicks {
  if (!(hi > lo)) return { values: [], decimals: 0 };
  const rawStep = (hi - lo) / targetCount;
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rawStep) ?? 10 * magnitude;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const values: number[] = [];
  for (let i = first; i <= last && values.length <= targetCount * 3; i++) values.push(Number((i * step).toFixed(decimals)));
  return { values, decimals };
}

function timeAxisTicks(result: ScenarioResult): NiceTicks {
  return niceTicks(0, result.ticks / result.rateHz, TIME_TICK_TARGET_COUNT);
}

function timeAxis(scale: XScale, timeTicks: NiceTicks, layout: Layout): string[] {
  const parts: string[] = [];
  const top = layout.axisTopPx;
  for (const seconds of timeTicks.values) {
    const x = px(xOfTick(scale, seconds * scale.rateHz));
    parts.push(`<line x1="${x}" y1="${px(top)}" x2="${x}" y2="${px(top + 4)}" stroke="#424a53"/>`);
    const anchor = Number(x) > PLOT_RIGHT_PX - 12 ? 'end' : 'middle';
    parts.push(`<text x="${x}" y="${px(top + 15)}" text-anchor="${anchor}" fill="#424a53">${seconds.toFixed(timeTicks.decimals)}</text>`);
  }
  parts.push(`<text x="${PLOT_RIGHT_PX}" y="${px(top + 29)}" text-anchor="end" fill="#424a53">time (s)</text>`);
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Mode strip

/** Each pixel column takes the most degraded mode of the bands it overlaps; -1: no band. */
function modeColumns(bands: readonly ModeBand[], scale: XScale): number[] {
  const ranks = new Array<number>(scale.columnCount).fill(-1);
  if (scale.columnCount === 0) return ranks;
  for (const band of bands) {
    const fromTick = Math.max(band.fromTick, 0);
    const toTick = Math.min(band.toTick, scale.ticks);
    if (toTick <= fromTick) continue;
    const fromColumn = Math.floor((fromTick * scale.columnCount) / scale.ticks);
    const toColumn = Math.min(Math.ceil((toTick * scale.columnCount) / scale.ticks), scale.columnCount);
    const rank = MODE_STYLE[band.mode].rank;
    for (let column = fromColumn; column < toColumn; column++) ranks[column] = Math.max(ranks[column] ?? -1, rank);
  }
  return ranks;
}

function modeStrip(bands: readonly ModeBand[], scale: XScale, layout: Layout): string[] {
  const top = layout.modeTopPx;
  const parts = [
    `<text x="${PLOT_LEFT_PX - 5}" y="${px(top + 15)}" text-anchor="end" font-weight="bold" fill="#424a53">mode</text>`,
    `<rect x="${PLOT_LEFT_PX}" y="${px(top)}" width="${PLOT_WIDTH_PX}" height="${MODE_STRIP_HEIGHT_PX}" fill="#eaeef2"/>`,
    `<g font-family="${FONT_MONO}">`,
  ];
  const ranks = modeColumns(bands, scale);
  let runStart = 0;
  for (let column = 1; column <= ranks.length; column++) {
    if (column < ranks.length && ranks[column] === ranks[runStart]) continue;
    const mode = MODES_BY_RANK[ranks[runStart] ?? -1];
    if (mode !== undefined) parts.push(...modeBandRect(mode, xOfColumnEdge(scale, runStart), xOfColumnEdge(scale, column), top));
    runStart = column;
  }
  parts.push('</g>');
  return parts;
}

function modeBandRect(mode: Mode, x0: number, x1: number, top: number): string[] {
  const style = MODE_STYLE[mode];
  const parts = [
    `<rect class="mode-${mode}" x="${px(x0)}" y="${px(top)}" width="${px(x1 - x0)}" height="${MODE_STRIP_HEIGHT_PX}" fill="${style.fill}"/>`,
  ];
  if (x1 - x0 >= mode.length * MONO_CHAR_PX + 8) {
    parts.push(
      `<text x="${px((x0 + x1) / 2)}" y="${px(top + 15)}" text-anchor="middle" font-weight="bold" ` +
        `fill="${style.text}">${mode}</text>`,
    );
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Markers

/** At most MARKER_DRAWN_MAX markers, the most telling kinds first, then in tick order. */
function markersToDraw(all: readonly Marker[]): { markers: Marker[]; droppedCount: number } {
  const byPriority = [...all].sort((a, b) => MARKER_STYLE[a.kind].priority - MARKER_STYLE[b.kind].priority);
  const markers = byPriority.slice(0, MARKER_DRAWN_MAX).sort((a, b) => a.tick - b.tick);
  return { markers, droppedCount: all.length - markers.length };
}

/** Labels in rows above the panels: each label takes the first row where it overlaps nothing. */
function placeLabels(markers: readonly Marker[], scale: XScale): PlacedMarker[] {
  const rowRightEdges = new Array<number>(LABEL_ROW_COUNT_MAX).fill(Number.NEGATIVE_INFINITY);
  return markers.map((marker) => {
    const xPx = xOfTick(scale, marker.tick);
    const text = truncateText(oneLine(marker.label) || MARKER_STYLE[marker.kind].legend, LABEL_LENGTH_MAX);
    const widthPx = text.length * LABEL_CHAR_PX + 6;
    const anchorEnd = xPx + widthPx > SVG_WIDTH_PX - 4;
    const [leftPx, rightPx] = anchorEnd ? [xPx - widthPx, xPx] : [xPx, xPx + widthPx];
    let row = rowRightEdges.findIndex((edge) => edge + 4 <= leftPx);
    if (row < 0) row = rowRightEdges.indexOf(Math.min(...rowRightEdges)); // all rows taken: least overlap
    rowRightEdges[row] = Math.max(rowRightEdges[row] ?? rightPx, rightPx);
    return { marker, xPx, row, text, anchorEnd };
  });
}

/** Shaded intervals (faults with a duration, disturbances), drawn beneath the series. */
function markerShading(markers: readonly Marker[], scale: XScale, layout: Layout): string[] {
  const parts: string[] = [];
  const top = layout.panelTopsPx[0] ?? layout.modeTopPx;
  const bottom = layout.modeTopPx + MODE_STRIP_HEIGHT_PX;
  for (const marker of markers) {
    const shade = MARKER_STYLE[marker.kind].shade;
    if (shade === null || marker.endTick === null) continue;
    const x0 = xOfTick(scale, marker.tick);
    const x1 = Math.max(xOfTick(scale, marker.endTick + 1), x0 + 1);
    parts.push(
      `<rect class="interval-${marker.kind}" x="${px(x0)}" y="${px(top)}" width="${px(x1 - x0)}" ` +
        `height="${px(bottom - top)}" fill="${shade}" fill-opacity="${SHADE_OPACITY}"/>`,
    );
  }
  return parts;
}

/** Vertical lines through every panel, each with its label as a flag at the top of its row. */
function markerLines(placed: readonly PlacedMarker[], layout: Layout): string[] {
  const parts = [`<g font-family="${FONT_MONO}" font-size="10">`];
  const bottom = px(layout.modeTopPx + MODE_STRIP_HEIGHT_PX);
  for (const { marker, xPx, row, text, anchorEnd } of placed) {
    const style = MARKER_STYLE[marker.kind];
    const rowTop = LABEL_TOP_PX + row * LABEL_ROW_HEIGHT_PX;
    const x = px(xPx);
    parts.push(
      `<line class="marker-${marker.kind}" x1="${x}" y1="${px(rowTop + 1)}" x2="${x}" y2="${bottom}" ` +
        `stroke="${style.stroke}" stroke-width="${style.widthPx}"${dashAttr(style.dash)}/>`,
    );
    const textX = px(anchorEnd ? xPx - 3 : xPx + 3);
    parts.push(
      `<text class="label-${marker.kind}" x="${textX}" y="${px(rowTop + LABEL_ROW_HEIGHT_PX - 3)}" ` +
        `${anchorEnd ? 'text-anchor="end" ' : ''}fill="${style.stroke}">${escapeXmlText(text)}</text>`,
    );
  }
  parts.push('</g>');
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Legend and criteria

interface LegendEntry {
  readonly text: string;
  /** A line sample, or a filled rectangle (intervals, modes). */
  readonly swatch: { readonly kind: 'line'; readonly style: LineStyle } | { readonly kind: 'rect'; readonly fill: string; readonly opacity: number };
}

function legendEntries(panels: readonly Panel[], markers: readonly Marker[], bands: readonly ModeBand[]): LegendEntry[] {
  const entries: LegendEntry[] = [];
  // A replica's output or the voted command on several panels is one legend entry.
  const seen = new Set<string>();
  for (const panel of panels) {
    for (const series of panel.series) {
      if (seen.has(series.legend)) continue;
      seen.add(series.legend);
      entries.push({ text: series.legend, swatch: { kind: 'line', style: series.style } });
    }
  }
  for (const kind of MARKER_KINDS) {
    const ofKind = markers.filter((marker) => marker.kind === kind);
    if (ofKind.length === 0) continue;
    const style = MARKER_STYLE[kind];
    const lineStyle: LineStyle = { stroke: style.stroke, widthPx: style.widthPx, dash: style.dash, opacity: 1 };
    entries.push({ text: style.legend, swatch: { kind: 'line', style: lineStyle } });
    if (style.shade !== null && ofKind.some((marker) => marker.endTick !== null)) {
      entries.push({ text: `${style.legend} (interval)`, swatch: { kind: 'rect', fill: style.shade, opacity: 0.35 } });
    }
  }
  for (const mode of MODES_BY_RANK) {
    if (bands.some((band) => band.mode === mode)) {
      entries.push({ text: `mode ${mode}`, swatch: { kind: 'rect', fill: MODE_STYLE[mode].fill, opacity: 1 } });
    }
  }
  return entries;
}

function legendBlock(
  panels: readonly Panel[],
  markers: readonly Marker[],
  bands: readonly ModeBand[],
  topPx: number,
): { parts: string[]; heightPx: number } {
  const rowHeightPx = 18;
  const parts = [`<g font-family="${FONT_MONO}">`];
  let x = PLOT_LEFT_PX;
  let rowTop = topPx;
  for (const entry of legendEntries(panels, markers, bands)) {
    const text = truncateText(entry.text, 40);
    const widthPx = 26 + text.length * MONO_CHAR_PX + 16;
    if (x + widthPx > PLOT_RIGHT_PX && x > PLOT_LEFT_PX) [x, rowTop] = [PLOT_LEFT_PX, rowTop + rowHeightPx];
    const midY = rowTop + rowHeightPx / 2;
    if (entry.swatch.kind === 'line') {
      const { stroke, widthPx: strokePx, dash } = entry.swatch.style;
      parts.push(
        `<line x1="${px(x)}" y1="${px(midY)}" x2="${px(x + 22)}" y2="${px(midY)}" stroke="${stroke}" ` +
          `stroke-width="${Math.max(strokePx, 1.2)}"${dashAttr(dash)}/>`,
      );
    } else {
      parts.push(
        `<rect x="${px(x)}" y="${px(midY - 5)}" width="22" height="10" fill="${entry.swatch.fill}" fill-opacity="${entry.swatch.opacity}"/>`,
      );
    }
    parts.push(`<text x="${px(x + 26)}" y="${px(midY + 4)}" fill="#1f2328">${escapeXmlText(text)}</text>`);
    x += widthPx;
  }
  parts.push('</g>');
  return { parts, heightPx: rowTop - topPx + rowHeightPx };
}

function criteriaLines(result: ScenarioResult): string[] {
  const failed = result.criteria.filter((criterion) => !criterion.passed);
  const passedCount = result.criteria.length - failed.length;
  const lines = [`criteria: ${passedCount} passed, ${failed.length} failed`];
  if (result.verdict === 'error') lines.push(`error: ${oneLine(result.error ?? 'no error text recorded')}`);
  for (const criterion of failed.slice(0, CRITERIA_LINES_MAX)) {
    lines.push(`✗ ${criterion.name}: ${oneLine(criterion.message)}`);
  }
  if (failed.length > CRITERIA_LINES_MAX) lines.push(`… ${failed.length - CRITERIA_LINES_MAX} more failed criteria`);
  return lines.map((line) => truncateText(line, CRITERION_LINE_LENGTH_MAX));
}

function criteriaBox(result: ScenarioResult, topPx: number): { parts: string[]; heightPx: number } {
  const lineHeightPx = 15;
  const lines = criteriaLines(result);
  const heightPx = lines.length * lineHeightPx + 10;
  const verdictColour = result.verdict === 'pass' ? '#d0d7de' : VERDICT_COLOUR[result.verdict];
  const parts = [
    `<g font-family="${FONT_MONO}">`,
    `<rect class="criteria" x="${PLOT_LEFT_PX}" y="${px(topPx)}" width="${PLOT_WIDTH_PX}" height="${heightPx}" ` +
      `fill="#f6f8fa" stroke="${verdictColour}"/>`,
  ];
  lines.forEach((line, index) => {
    const fill = index === 0 ? '#1f2328' : verdictColour;
    parts.push(
      `<text x="${PLOT_LEFT_PX + 8}" y="${px(topPx + 5 + (index + 1) * lineHeightPx - 4)}" fill="${fill}"` +
        `${index === 0 ? ' font-weight="bold"' : ''}>${escapeXmlText(line)}</text>`,
    );
  });
  parts.push('</g>');
  return { parts, heightPx };
}
