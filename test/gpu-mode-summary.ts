import type { Reporter, TestModule } from 'vitest/node';
import type {} from './gpu-meta.js';

/**
 * A vitest reporter (see vitest.config.ts) that ends the run with one line saying which GPU.js modes
 * the gpu tests ran in, and how many were skipped and why (from `needGpuMode` in gpu-helpers.ts).
 */
export default class GpuModeSummary implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const ran = new Map<string, number>();
    const skipped = new Map<string, number>();
    let failed = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const gpu = test.meta().gpu;
        if (!gpu) continue;
        const result = test.result();
        if (result.state === 'skipped') {
          const why = gpu.skipped ?? result.note ?? 'skipped';
          skipped.set(why, (skipped.get(why) ?? 0) + 1);
          continue;
        }
        if (result.state === 'failed') failed++;
        for (const mode of gpu.ran) {
          const key = gpu.needs.includes('auto') ? `auto→${mode}` : mode;
          ran.set(key, (ran.get(key) ?? 0) + 1);
        }
      }
    }
    if (ran.size === 0 && skipped.size === 0 && failed === 0) return;
    const list = (m: Map<string, number>): string => [...m].map(([k, n]) => `${k} ×${n}`).join(', ');
    const parts = [`ran ${ran.size > 0 ? list(ran) : 'none'}`];
    if (failed > 0) parts.push(`${failed} failed`);
    parts.push(skipped.size > 0 ? `skipped ${[...skipped].map(([why, n]) => `${n} (${why})`).join('; ')}` : 'skipped none');
    process.stdout.write(`\n gpu tests by GPU.js mode: ${parts.join('; ')}\n`);
  }
}
