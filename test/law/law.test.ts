import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defineLaw, LawError, type LawSpec } from '../../src/law/law.js';
import { importLaw } from '../../src/law/law-loader.js';
import { hex, loadLaw, runSelfTest } from '../../src/law/law-runtime.js';
import pid from '../../src/laws/pid-q16/law.js';
import tank from '../../src/laws/tank/law.js';

/** A small well-formed law: out = clamp(in + param) and a counter state. */
function counterSpec(overrides: Partial<LawSpec<{ count: number; offset: number }>> = {}): LawSpec<{ count: number; offset: number }> {
  return {
    name: 'counter',
    version: 1,
    inputs: [{ name: 'x', unit: 'count', min: -100, max: 100 }],
    outputs: [{ name: 'y', unit: 'count', min: -200, max: 200, safe: 0, vote: 'exact' }],
    params: [{ name: 'offset', min: -100, max: 100, default: 1 }],
    stateSizeBytes: 1,
    init: (params) => ({ count: 0, offset: params[0] as number }),
    step: (s, inputs, outputs) => {
      s.count = (s.count + 1) & 0xff;
      outputs[0] = (inputs[0] as number) + s.offset;
    },
    serialize: (s, out) => {
      out[0] = s.count;
    },
    deserialize: (s, bytes) => {
      s.count = bytes[0] as number;
      return null;
    },
    ...overrides,
  };
}

describe('defineLaw', () => {
  it('accepts a well-formed declaration and freezes it', () => {
    const law = defineLaw(counterSpec());
    expect(law.kind).toBe('tmr-law');
    expect(Object.isFrozen(law.outputs[0])).toBe(true);
  });

  it.each([
    [{ name: 'Bad Name' }, 'name "Bad Name"'],
    [{ version: 70000 }, 'version 70000'],
    [{ inputs: [] }, 'inputs has 0 entries'],
    [{ outputs: [{ name: 'y', unit: 'c', min: 0, max: 10, safe: 11, vote: 'exact' as const }] }, 'outputs[0].safe 11'],
    [{ outputs: [{ name: 'y', unit: 'c', min: 0, max: 10, safe: 0, vote: 'exact' as const, tolerance: 2 }] }, 'outputs[0].tolerance must be 0'],
    [{ outputs: [{ name: 'y', unit: 'c', min: 0, max: 10, safe: 0, vote: 'median' as unknown as 'exact' }] }, "outputs[0].vote must be 'exact' or 'mid-value'"],
    [{ params: [{ name: 'k', min: 5, max: 1, default: 3 }] }, 'params[0]: min 5 is above max 1'],
    [{ params: [{ name: 'k', min: 0, max: 1, default: 3 }] }, 'params[0].default 3'],
    [{ inputs: [{ name: 'x', unit: 'c', min: 0, max: 1 }, { name: 'x', unit: 'c', min: 0, max: 1 }] }, "inputs[1].name 'x' is declared twice"],
    [{ stateSizeBytes: 65 }, 'stateSizeBytes 65 must be 1..64'],
    [{ inputs: [{ name: 'x', unit: 'c', min: 0.5, max: 1 }] }, 'inputs[0]: min and max must be int32'],
  ])('refuses %j, naming the field', (override, expected) => {
    expect(() => defineLaw(counterSpec(override as Partial<LawSpec<{ count: number; offset: number }>>))).toThrow(LawError);
    expect(() => defineLaw(counterSpec(override as Partial<LawSpec<{ count: number; offset: number }>>))).toThrow(expected);
  });
});

describe('load-time checks', () => {
  it('loads a well-formed law and derives its hash', () => {
    const law = loadLaw(defineLaw(counterSpec()), 'test');
    expect(runSelfTest(law.definition)).toEqual({ ok: true, hash: law.selfTestHash });
    expect(law.channels).toEqual([{ name: 'y', kind: 'exact', toleranceCounts: 0 }]);
  });

  it('refuses a law that is not deterministic, naming it', () => {
    let calls = 0;
    const law = defineLaw(counterSpec({ step: (_s, inputs, outputs) => { outputs[0] = (inputs[0] as number) + (calls++ > 300 ? 1 : 0); } }));
    expect(() => loadLaw(law, 'test')).toThrow(/^law 'counter' refused: not deterministic: two self-test runs gave [0-9a-f]{8} and [0-9a-f]{8}$/);
  });

  it('refuses a law that throws, with the step and inputs', () => {
    const law = defineLaw(counterSpec({ step: (_s, inputs) => { if ((inputs[0] as number) > 90) throw new Error('boom'); } }));
    expect(() => loadLaw(law, 'test')).toThrow(/^law 'counter' refused: it threw at self-test step \d+ \(inputs \[\d+\], parameters \[-?\d+\]\): boom$/);
  });

  it('refuses a law that writes an output out of range', () => {
    const law = defineLaw(counterSpec({ step: (_s, inputs, outputs) => { outputs[0] = (inputs[0] as number) * 3; } }));
    expect(() => loadLaw(law, 'test')).toThrow(/law 'counter' refused: it wrote y = -?\d+, outside \[-200, 200\] at self-test step \d+/);
  });

  it('refuses a law whose state bytes do not survive a transfer', () => {
    const law = defineLaw(counterSpec({ deserialize: (s, bytes) => { s.count = (bytes[0] as number) ^ 1; return null; } }));
    expect(() => loadLaw(law, 'test')).toThrow(/state bytes do not survive serialize\/deserialize/);
  });

  it('refuses something that is not a law', () => {
    expect(() => loadLaw({ name: 'x' }, '--law x.js')).toThrow('--law x.js: does not export a law');
  });
});

describe('shipped laws', () => {
  // Pinned: the C twins (src/laws/*/law.c) and boards must report exactly these at the handshake.
  it('have the self-test hashes their C twins reproduce', () => {
    expect(hex(loadLaw(pid, 'pid-q16').selfTestHash)).toBe('e9d7a0fc');
    expect(hex(loadLaw(tank, 'tank').selfTestHash)).toBe('0823d7ea');
  });

  it('tank: pump and alarm hysteresis, valve closed in alarm', () => {
    const law = loadLaw(tank, 'tank');
    const state = tank.init(law.paramsForRate(100));
    const outputs = new Int32Array(3);
    const at = (setpoint: number, level: number, wet = 0): number[] => {
      tank.step(state, Int32Array.of(setpoint, level, wet), outputs);
      return Array.from(outputs);
    };
    expect(at(1000, 800)[1]).toBe(1); // 200 mm under: pump on
    expect(at(1000, 900)[1]).toBe(1); // 100 mm under: stays on (hysteresis)
    expect(at(1000, 961)[1]).toBe(0); // 39 mm under: off
    expect(at(1000, 900)[1]).toBe(0); // 100 mm under: stays off
    expect(at(1000, 1860)).toEqual([0, 0, 1]); // above the high alarm: valve shut, pump off, alarm
    expect(at(1000, 1800)[2]).toBe(1); // above the clear level: still raised
    expect(at(1000, 1700)[2]).toBe(0); // cleared
    for (let i = 0; i < 3; i++) expect(at(1000, 1000, 1)[2]).toBe(0); // a wet switch, debounced
    expect(at(1000, 1000, 1)[2]).toBe(1);
  });
});

describe('importLaw', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tmr-law-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a shipped law by name', async () => {
    const law = await importLaw('tank');
    expect(law.name).toBe('tank');
    expect(law.reference.shipped).toBe('tank');
  });

  it('loads a user module by path, its default export', async () => {
    const lawPath = join(dir, 'user-law.ts');
    writeFileSync(
      lawPath,
      `import { defineLaw } from '${join(process.cwd(), 'src', 'index.ts')}';
export default defineLaw({ name: 'user', version: 3, inputs: [{ name: 'a', unit: 'u', min: 0, max: 9 }],
  outputs: [{ name: 'b', unit: 'u', min: 0, max: 9, safe: 0, vote: 'exact' }], params: [], stateSizeBytes: 1,
  init: () => ({}), step: (_s, i, o) => { o[0] = i[0]; }, serialize: (_s, out) => { out[0] = 7; }, deserialize: () => null });
`,
    );
    const law = await importLaw(lawPath);
    expect(law.name).toBe('user');
    expect(law.version).toBe(3);
  });

  it('names the file and the problem when it cannot load one', async () => {
    await expect(importLaw(join(dir, 'missing.js'))).rejects.toThrow(/^--law .*missing\.js: no such file/);
    await expect(importLaw('no-such-law')).rejects.toThrow("--law no-such-law: neither a shipped law (pid-q16, tank) nor a .js or .ts file");
    writeFileSync(join(dir, 'throws.mjs'), "throw new Error('broken at load');\n");
    await expect(importLaw(join(dir, 'throws.mjs'))).rejects.toThrow(/the module failed to load: broken at load$/);
    writeFileSync(join(dir, 'empty.mjs'), 'export const x = 1;\n');
    await expect(importLaw(join(dir, 'empty.mjs'))).rejects.toThrow(/does not export a law/);
  });
});
