#!/usr/bin/env node
/**
 * The loader fuzzer at full length (the test suite runs 5,000 mutations per format):
 *
 *   node scripts/fuzz-loaders.mjs [--mutations N] [--seed S] [--format idx|idx-gz|weights|checkpoint|safetensors|csv]... [--first I]
 *
 * Defaults: 100,000 mutations per format, seed 1. The TypeScript harness (test/fuzz/) is bundled with
 * esbuild (a dev dependency) and run here against the sources. Prints, per format, what the mutations
 * ended in, the slowest mutation and the largest growth of array-buffer memory; exits 1 on any failure
 * (an unnamed error, an inconsistent load, a read outside the folder), listing how to replay it.
 */
import { build } from 'esbuild';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    mutations: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    format: { type: 'string', multiple: true },
    first: { type: 'string', default: '0' },
  },
});
const mutations = Number(values.mutations);
const seed = Number(values.seed);
const first = Number(values.first);
if (!Number.isSafeInteger(mutations) || mutations < 1 || !Number.isSafeInteger(seed) || !Number.isSafeInteger(first) || first < 0) {
  console.error('fuzz-loaders: --mutations must be an integer ≥ 1, --seed and --first integers');
  process.exit(2);
}

// tmpfs where there is one: the weights and checkpoint cases write two small files per mutation
const work = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'dselect-k-fuzz-'));
try {
  const bundle = await build({
    entryPoints: [join(repo, 'test', 'fuzz', 'loader-fuzz.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'error',
  });
  const harnessFile = join(work, 'harness.mjs');
  writeFileSync(harnessFile, bundle.outputFiles[0].contents);
  const { FUZZ_FORMATS, fuzzFormat } = await import(pathToFileURL(harnessFile).href);
  const formats = values.format ?? FUZZ_FORMATS;
  for (const f of formats) {
    if (!FUZZ_FORMATS.includes(f)) {
      console.error(`fuzz-loaders: unknown --format ${f} (one of ${FUZZ_FORMATS.join(', ')})`);
      process.exit(2);
    }
  }
  let failed = 0;
  for (const format of formats) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const report = await fuzzFormat(format, { seed, mutations, first, workDir: work });
    const used = process.cpuUsage(cpu);
    const errors = Object.values(report.errors).reduce((a, b) => a + b, 0);
    console.log(
      `${format}: ${mutations} mutations (seed ${seed}, from ${first}): ${report.loaded} loaded, ${errors} named errors of ${Object.keys(report.errors).length} kinds, ` +
        `${report.failures.length} failures; ${((performance.now() - started) / 1000).toFixed(1)} s wall, ${((used.user + used.system) / 1e6).toFixed(1)} s cpu, ` +
        `slowest mutation ${report.slowestMs.toFixed(1)} ms, array buffers +${(report.peakArrayBuffers / 2 ** 20).toFixed(1)} MiB at most`,
    );
    for (const f of report.failures.slice(0, 20)) console.log(`  FAIL #${f.index} (${f.what}): ${f.problem}`);
    if (report.failures.length > 0) console.log(`  replay one: node scripts/fuzz-loaders.mjs --format ${format} --seed ${seed} --first INDEX --mutations 1`);
    failed += report.failures.length;
  }
  process.exitCode = failed > 0 ? 1 : 0;
} finally {
  rmSync(work, { recursive: true, force: true });
}
