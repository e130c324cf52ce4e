import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The default reporter, then one line saying which GPU.js modes the gpu tests ran in (or why not).
    reporters: ['default', './test/gpu-mode-summary.ts'],
  },
});
