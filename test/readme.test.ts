import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The README's examples stay true: every ```ts block that imports `dselect-k` (or one of its entries)
 * is type-checked as a strict TypeScript consumer would, then bundled against the sources and run.
 */
const repo = resolve(import.meta.dirname, '..');
const work = join(repo, '.tmp', `readme-${process.pid}`);

/** `dselect-k` and its entries, resolved to the sources (the blocks are checked against src, not a stale dist). */
const ENTRIES: Record<string, string> = {
  'dselect-k': 'src/index.ts',
  'dselect-k/node': 'src/node/index.ts',
  'dselect-k/onnx': 'src/onnx/index.ts',
  'dselect-k/gpu': 'src/gpu/index.ts',
  'dselect-k/advanced': 'src/advanced.ts',
  'dselect-k/experiments': 'src/experiments/index.ts',
};

interface Block {
  line: number;
  code: string;
}

function readmeBlocks(): Block[] {
  const text = readFileSync(join(repo, 'README.md'), 'utf8');
  const blocks: Block[] = [];
  for (const m of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    if (/from 'dselect-k(\/[a-z]+)?'/.test(m[1]!)) blocks.push({ line: text.slice(0, m.index).split('\n').length, code: m[1]! });
  }
  return blocks;
}

const blocks = readmeBlocks();
const fileOf = (b: Block): string => join(work, `readme-line-${b.line}.ts`);

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'readme-blocks', private: true, type: 'module' }));
  for (const b of blocks) writeFileSync(fileOf(b), b.code);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const toSources: Plugin = {
  name: 'dselect-k-sources',
  setup(b) {
    b.onResolve({ filter: /^dselect-k(\/[a-z]+)?$/ }, (args) => ({ path: join(repo, ENTRIES[args.path]!) }));
  },
};

describe('README examples', () => {
  it('has TypeScript blocks that import dselect-k', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    expect(blocks.some((b) => b.code.includes("from 'dselect-k/onnx'"))).toBe(true);
  });

  it('type-check as a strict consumer', () => {
    const paths = Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, [join(repo, file)]]));
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(repo, 'node_modules', '@types')], paths }, files: blocks.map(fileOf) }, null, 2),
    );
    const tsc = spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(work, 'tsconfig.json')], { encoding: 'utf8', cwd: work });
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);
  });

  for (const b of blocks) {
    it(`runs the block at README.md line ${b.line}`, async () => {
      const out = join(work, `readme-line-${b.line}.mjs`);
      await build({ entryPoints: [fileOf(b)], bundle: true, platform: 'node', format: 'esm', outfile: out, plugins: [toSources], external: ['onnxruntime-node', 'protobufjs', 'gpu.js', 'vega', 'mnist', 'csv-parse'], logLevel: 'silent' });
      const dir = join(work, `run-${b.line}`);
      mkdirSync(dir, { recursive: true });
      const r = spawnSync(process.execPath, [out], { encoding: 'utf8', cwd: dir, timeout: 110_000 });
      expect(r.status, `README.md line ${b.line}:\n${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout.length, 'the example prints what it shows').toBeGreaterThan(0);
    });
  }
});
