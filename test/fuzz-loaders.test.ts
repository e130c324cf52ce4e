import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FUZZ_FORMATS, fuzzFormat } from './fuzz/loader-fuzz.js';

/**
 * 5,000 seeded mutations of each loader's input (IDX plain, IDX gzipped, weights manifest + binary,
 * checkpoint, safetensors, numeric CSV): each ends in the loader's named error or a consistent load, never another exception
 * nor a read outside the folder it was given. More mutations: `node scripts/fuzz-loaders.mjs`.
 */
const MUTATIONS = 5000;
const SEED = 20240611;
// tmpfs where there is one: the weights and checkpoint cases write two small files per mutation
const work = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'dselect-k-fuzz-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('loader fuzzing', () => {
  it.each(FUZZ_FORMATS)('%s: 5,000 mutations end in a named error or a consistent load', async (format) => {
    const report = await fuzzFormat(format, { seed: SEED, mutations: MUTATIONS, workDir: work });
    expect(report.failures.slice(0, 10), `${report.failures.length} failures; replay one with fuzzFormat('${format}', { seed: ${SEED}, first: INDEX, mutations: 1, … })`).toEqual([]);
    const errors = Object.values(report.errors).reduce((a, b) => a + b, 0);
    expect(report.loaded + errors).toBe(MUTATIONS);
    // The mutations reach past the first check: several kinds of error, and some files still load.
    expect(Object.keys(report.errors).length).toBeGreaterThan(8);
    expect(report.loaded).toBeGreaterThan(20);
  });
});
