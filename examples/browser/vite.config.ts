import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

/**
 * The browser demo: `npm run demo` serves it. `dselect-k` and `dselect-k/gpu` resolve to the sources in
 * src/ (no build step first; the core has no Node built-in in its graph). GPU.js resolves to its browser
 * build and is loaded only when a gpu backend is chosen.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));

/** The package's entry points → their sources. */
const ENTRIES: Readonly<Record<string, string>> = {
  'dselect-k': `${repo}src/index.ts`,
  'dselect-k/gpu': `${repo}src/gpu/index.ts`,
};

/**
 * Resolves `dselect-k` and `dselect-k/gpu` to src/. The entries call setupCore() when they load; the
 * package's `sideEffects` list names only dist/, so the sources are marked as having side effects here,
 * or the bundler would drop that call.
 */
function dselectKSources(): Plugin {
  return {
    name: 'dselect-k-sources',
    enforce: 'pre',
    resolveId: (source) => (Object.hasOwn(ENTRIES, source) ? { id: ENTRIES[source]!, moduleSideEffects: true } : null),
  };
}

export default defineConfig({
  root: here,
  base: './',
  plugins: [dselectKSources()],
  // The worker loads GPU.js on demand: pre-bundle it up front so the dev server need not reload the page.
  optimizeDeps: { include: ['gpu.js', 'uplot'] },
  worker: { format: 'es', plugins: () => [dselectKSources()] },
  server: { fs: { allow: [repo] }, open: false },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, reportCompressedSize: false },
});
