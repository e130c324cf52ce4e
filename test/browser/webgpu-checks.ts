import { backend } from '../../src/advanced.js';
import { GpuBackend, WEBGPU_SYNC_READ_ERROR, type GpuBackendInfo } from '../../src/gpu/index.js';
import { buildMMoE, evaluate, evaluateAsync, fit, fitAsync, getBackend, matmul, randn, ready, Rng, setBackend, tensor, tidy } from '../../src/index.js';
import type { SourceSpec } from '../../src/kernels/gpu/elementwise.js';
import { worstMismatch, worstRelativeToMax } from '../gpu-cases/compare.js';

/**
 * Checks of the gpu backend's asynchronous API on webgpu (the queue, readback, errors, memory,
 * fitAsync), run in Chromium by webgpu-entry.ts; defined apart so the Node test can list them.
 */
export interface Check {
  name: string;
  failure: string | null;
}

export const useWebGpu = (): void => void setBackend('gpu', { gpuMode: 'webgpu' });
export const gpu = (): GpuBackend => backend() as GpuBackend;

export async function check(name: string, body: () => Promise<void> | void): Promise<Check> {
  try {
    useWebGpu();
    await body();
    await ready();
    return { name, failure: null };
  } catch (e) {
    return { name, failure: (e as Error).stack ?? String(e) };
  }
}

function assert(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

function throwsMessage(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export const asyncChecks: [string, () => Promise<void> | void][] = [
  [
    'getBackend names the adapter; a second synchronous setBackend returns the same started device',
    () => {
      const info = getBackend() as GpuBackendInfo;
      assert(info.mode === 'webgpu' && info.readsSync === false && info.webgpu === 'running', `info ${JSON.stringify(info)}`);
      assert(info.adapter !== null && info.adapter.source === 'navigator.gpu', `adapter ${JSON.stringify(info.adapter)}`);
      if (info.adapter!.software) assert(/no GPU/.test(info.device), `a software adapter must say "no GPU": ${info.device}`);
      const before = backend();
      useWebGpu();
      assert(backend() === before, 'setBackend created a second webgpu backend');
    },
  ],
  [
    'a synchronous read of a device result is an error naming the async forms; uploaded data reads synchronously',
    async () => {
      const x = tensor([1, -2, 3]);
      const y = x.relu().add(1);
      for (const [what, fn] of [
        ['toArray', () => y.toArray()],
        ['item', () => y.sum().item()],
        ['readSync', () => y.storage.readSync()],
      ] as const) {
        const m = throwsMessage(fn);
        assert(m === WEBGPU_SYNC_READ_ERROR, `${what}: ${m}`);
        assert(/await tensor\.data\(\)/.test(m!) && /itemAsync/.test(m!), `${what} does not name the async forms: ${m}`);
      }
      assert(Array.from(x.toArray()).join() === '1,-2,3', 'an uploaded tensor keeps its host copy');
      assert(Array.from(await y.data()).join() === '2,1,4', 'data()');
      assert((await y.sum().itemAsync()) === 7, 'itemAsync()');
      // Once read asynchronously, the value is cached: the synchronous read works from then on.
      assert(Array.from(y.toArray()).join() === '2,1,4', 'toArray after data()');
    },
  ],
  [
    'ops enqueue behind a shader build and return at once; ready() drains the queue; a dispose while queued only marks',
    async () => {
      const g = gpu();
      const base = g.info().stats;
      const n = 1000 + Math.floor(Math.random() * 1000); // a size no kernel was built for
      const x = randn([n], { rng: new Rng(1) });
      // exp: a new kernel, waits for its build; the rest queues behind it, and tidy disposes the
      // intermediate y·2 while its launch still waits.
      const { y, z } = tidy(() => {
        const y = x.exp();
        return { y, z: y.mul(2).add(x) };
      });
      const queued = g.info().stats.queued;
      assert(queued >= 1, `expected launches waiting in the queue, got ${queued}`);
      y.dispose(); // z's launch still holds y
      await ready();
      assert(g.info().stats.queued === 0, 'the queue drained');
      const got = await z.data();
      const xs = x.toArray();
      const want = Float32Array.from(xs, (v) => 2 * Math.exp(v) + v);
      const bad = worstMismatch(got, want, { atol: 1e-6, rtol: 2e-5 });
      assert(bad === null, `z = 2·exp(x) + x: ${bad}`);
      x.dispose();
      z.dispose();
      const after = g.info().stats;
      assert(after.liveStorages === base.liveStorages && after.liveTextures === base.liveTextures, `leak: ${JSON.stringify(base)} → ${JSON.stringify(after)}`);
    },
  ],
  [
    'a kernel that fails in the queue fails its result, is reported by ready(), and the device keeps working',
    async () => {
      const g = gpu();
      const broken: SourceSpec = { key: `broken:${Math.random()}`, source: () => 'function(a) {\nreturn a[this.thread.x] + undefinedName;\n}' };
      const x = g.fromHost(new Float32Array([1, 2, 3]));
      const out = g.device.run(broken, 3, [x as never]);
      let readError: string | null = null;
      try {
        await out.read!();
      } catch (e) {
        readError = (e as Error).message;
      }
      assert(readError !== null, 'reading the failed result should reject');
      const m = throwsMessage(() => g.unary('neg', x));
      assert(m !== null && /device queue stopped/.test(m), `an op after the failure: ${m}`);
      let readyError: string | null = null;
      try {
        await ready();
      } catch (e) {
        readyError = (e as Error).message;
      }
      assert(readyError !== null, 'ready() should reject with the failure');
      const y = await g.unary('neg', x).read!();
      assert(Array.from(y).join() === '-1,-2,-3', `after ready() the device works again: ${Array.from(y)}`);
      out.dispose();
      x.dispose();
    },
  ],
  [
    '300 training steps in tidy keep device memory flat',
    async () => {
      const g = gpu();
      const rng = new Rng(2);
      const x = randn([64, 8], { rng });
      const y = matmul(x, randn([8, 1], { rng })).tanh();
      const w = randn([8, 1], { rng, std: 0.3 });
      w.requiresGrad = true;
      let first = 0;
      let last = 0;
      let at50 = g.info().stats;
      for (let i = 1; i <= 300; i++) {
        const loss = tidy(() => {
          const l = matmul(x, w).sub(y).square().mean();
          l.backward();
          w.setStorage(w.detach().sub(w.grad!.mul(0.1)).storage);
          w.zeroGrad();
          return l;
        });
        if (i === 1) first = await loss.itemAsync();
        if (i === 300) last = await loss.itemAsync();
        loss.dispose();
        if (i === 50) at50 = g.info().stats;
      }
      await ready();
      const at300 = g.info().stats;
      assert(at300.liveStorages === at50.liveStorages && at300.liveTextures === at50.liveTextures && at300.kernels === at50.kernels, `${JSON.stringify(at50)} → ${JSON.stringify(at300)}`);
      assert(last < first * 0.5, `the loop did not train: ${first} → ${last}`);
    },
  ],
  [
    'fitAsync and evaluateAsync on webgpu follow fit and evaluate on the cpu backend',
    async () => {
      const make = () => buildMMoE({ inputDim: 6, numTasks: 2, numExperts: 4, expertHidden: [8], expertOutputDim: 4, gate: { type: 'dselect-k', k: 2, perExample: true }, seed: 3 });
      const rng = new Rng(1);
      const x = randn([80, 6], { rng });
      const y = randn([80, 2], { rng });
      const data = { x, y };
      const opts = { epochs: 3, batchSize: 16, lr: 0.01, seed: 7 };
      setBackend('cpu');
      const cpuModel = make();
      const cpuFit = fit(cpuModel, data, opts);
      const cpuEval = evaluate(cpuModel, data);
      const cpuWeights = cpuModel.parameters().map((p) => Float32Array.from(p.toArray()));
      useWebGpu();
      const gpuModel = make();
      let batches = 0;
      const gpuFit = await fitAsync(gpuModel, data, { ...opts, readEvery: 4, onBatch: () => void batches++ });
      assert(batches === 3 * 5, `onBatch ran ${batches} times`);
      gpuFit.history.forEach((h, e) => {
        const c = cpuFit.history[e]!;
        assert(Math.abs(h.loss - c.loss) <= 1e-4 * Math.abs(c.loss), `epoch ${e} loss ${h.loss} vs cpu ${c.loss}`);
      });
      const gpuEval = await evaluateAsync(gpuModel, data);
      assert(Math.abs(gpuEval.loss - cpuEval.loss) <= 1e-4 * Math.abs(cpuEval.loss), `evaluateAsync ${gpuEval.loss} vs evaluate on cpu ${cpuEval.loss}`);
      const params = gpuModel.parameters();
      for (let i = 0; i < params.length; i++) {
        const bad = worstRelativeToMax(await params[i]!.data(), cpuWeights[i]!, 1e-3, 1e-5);
        assert(bad === null, `parameter ${i} after 3 epochs: ${bad}`);
      }
    },
  ],
  [
    'diagnosticsAsync reads the gates on webgpu (diagnostics cannot) as diagnostics does on the cpu backend, and frees what it read',
    async () => {
      // Static and per-example DSelect-k: a static gate with one selector saturated and one not, a per-example gate over 37 rows.
      const make = (perExample: boolean) => buildMMoE({ inputDim: 5, numTasks: 2, numExperts: 5, expertHidden: [4], expertOutputDim: 3, gate: { type: 'dselect-k', k: 2, perExample }, seed: 11 });
      const x = randn([37, 5], { rng: new Rng(12), std: 40 });
      for (const perExample of [false, true]) {
        setBackend('cpu');
        const cpuModel = make(perExample);
        const zParams = cpuModel.namedParameters().filter(([n]) => n.endsWith('.z'));
        for (const [, p] of zParams) p.setStorage(tensor([0.9, -0.9, 0.9, 0.1, 0.2, -0.3], { shape: p.shape }).storage);
        const want = cpuModel.diagnostics(x);
        useWebGpu();
        const gpuModel = make(perExample);
        gpuModel.loadStateDict(cpuModel.stateDict());
        assert((throwsMessage(() => gpuModel.diagnostics(x)) ?? '').includes(WEBGPU_SYNC_READ_ERROR), 'diagnostics on webgpu must name the async forms');
        await gpuModel.diagnosticsAsync(x); // moves x to the device and builds the static gates' inference cache
        await ready();
        const before = gpu().info().stats.liveStorages;
        const got = await gpuModel.diagnosticsAsync(x);
        await ready();
        assert(gpu().info().stats.liveStorages === before, `diagnosticsAsync left ${gpu().info().stats.liveStorages - before} storages behind`);
        got.forEach((g, t) => {
          const w = want[t]!;
          assert(g.binarySelectorFraction === w.binarySelectorFraction, `${perExample ? 'per-example' : 'static'} task ${t}: binary ${g.binarySelectorFraction} vs cpu ${w.binarySelectorFraction}`);
          assert(g.selectedExperts.join() === w.selectedExperts.join(), `task ${t}: selected ${g.selectedExperts} vs cpu ${w.selectedExperts}`);
          const bad = worstMismatch(g.meanWeights, w.meanWeights, { atol: 1e-5, rtol: 1e-4 });
          assert(bad === null, `task ${t} mean weights: ${bad}`);
        });
        if (!perExample) assert(want.every((d) => d.binarySelectorFraction === 0.5), `the static gates are half binary on cpu: ${want.map((d) => d.binarySelectorFraction)}`);
      }
    },
  ],
];
