import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layout rules of DESIGN.md §2, checked on the import graph of src/: lower layers never import
 * higher ones; the core entry's graph holds no Node built-in, no gpu code and no gradient-check lists.
 */
const SRC = resolve(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** file (relative to src) → its import specifiers (static and dynamic, type-only included). */
const graph = new Map<string, string[]>(
  sourceFiles(SRC).map((file) => {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
    return [relative(SRC, file), specs];
  }),
);

function target(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  return normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts');
}

/** Rank of each layer; a file may import only from layers of equal or lower rank. */
const RANK: Record<string, number> = { tensor: 0, kernels: 1, autograd: 2, packs: 3, nn: 4, optim: 4, data: 4, moe: 5, checks: 6, node: 6, report: 6, gpu: 6, onnx: 6, experiments: 7, cli: 8 };
const layerOf = (file: string): string => (file.includes('/') ? file.split('/')[0]! : 'entry');

describe('layering', () => {
  it('every import points to an existing file', () => {
    const missing: string[] = [];
    for (const [file, specs] of graph) {
      for (const spec of specs) {
        const t = target(file, spec);
        if (t && !graph.has(t)) missing.push(`${file} → ${spec}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('lower layers never import higher ones', () => {
    const upward: string[] = [];
    for (const [file, specs] of graph) {
      const from = layerOf(file);
      if (from === 'entry') continue;
      for (const spec of specs) {
        const t = target(file, spec);
        if (!t) continue;
        const to = layerOf(t);
        if (to === 'entry' && t !== 'core-setup.ts') upward.push(`${file} → ${t}`);
        else if (to !== 'entry' && RANK[to]! > RANK[from]!) upward.push(`${file} (${from}) → ${t} (${to})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('the gradient-check lists are imported by the CLI and the checks only', () => {
    const importers = [...graph].filter(([file, specs]) => specs.some((s) => /\/checks(\.js|\/)/.test(target(file, s) ?? '')) && !file.startsWith('checks/') && !file.startsWith('cli/') && !file.startsWith('packs/'));
    expect(importers.map(([f]) => f)).toEqual([]);
    // Inside packs, only a pack's own checks.ts is a checks file, and only src/checks imports it.
    const packChecks = [...graph].filter(([file, specs]) => !file.startsWith('checks/') && !/^packs\/[^/]+\/checks\.ts$/.test(file) && specs.some((s) => /^packs\/[^/]+\/checks\.ts$/.test(target(file, s) ?? '')));
    expect(packChecks.map(([f]) => f)).toEqual([]);
  });

  it("the core entry's module graph has no Node built-in, gpu code, node/ or checks", () => {
    const seen = new Set<string>();
    const stack = ['index.ts'];
    const offending: string[] = [];
    while (stack.length > 0) {
      const file = stack.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of graph.get(file) ?? []) {
        if (spec.startsWith('node:')) offending.push(`${file} imports ${spec}`);
        const t = target(file, spec);
        if (!t) continue;
        if (/^(node|gpu|checks|report|experiments|cli|onnx)\//.test(t) || t.startsWith('kernels/gpu/') || /\/(gpu|checks)\.ts$/.test(t)) offending.push(`${file} → ${t}`);
        stack.push(t);
      }
    }
    expect(offending).toEqual([]);
    expect(seen.size).toBeGreaterThan(50);
  });
});
