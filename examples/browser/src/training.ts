import { buildMMoE, fitAsync, generateSynthetic, getBackend, setBackend, setBackendAsync, type BackendInfo, type GateSpec } from 'dselect-k';
import { gpuModeOf } from './backends.js';
import { GateSnapshots, readGates } from './gate-snapshots.js';
import type { BackendReport, EpochReport, FromWorker, ProbeResult } from './protocol.js';
import { GATE_LABELS, type DemoSettings } from './settings.js';
import type { GpuModeRequest } from 'dselect-k/gpu';

/**
 * One training run of the page, written against `dselect-k` only (no DOM, no worker globals): the
 * worker calls it and forwards every message to the page.
 */

/** Rows the per-example gates are summarised over. */
const GATE_PROBE_ROWS = 256;

/** Makes `choice` the active backend (awaiting its start: a WebGPU adapter and device); a gpu choice loads GPU.js first. */
export async function activateBackend(choice: DemoSettings['backend']): Promise<BackendReport> {
  const mode = gpuModeOf(choice);
  if (mode === null) return report(await setBackendAsync('cpu'));
  await loadGpuBackend();
  return report(await setBackendAsync('gpu', { gpuMode: mode }));
}

async function loadGpuBackend(): Promise<void> {
  // GPU.js's browser build defines the global `GPU` the gpu backend looks for; loaded only when asked.
  await import('gpu.js');
  const { registerGpuBackend } = await import('dselect-k/gpu');
  registerGpuBackend();
}

/** Tries each GPU.js mode in turn (WebGPU's adapter included): what it really runs on, or why it cannot start here. */
export async function probeGpuModes(modes: readonly GpuModeRequest[]): Promise<ProbeResult[]> {
  try {
    await loadGpuBackend();
  } catch (e) {
    return modes.map((mode) => ({ mode, backend: null, error: `GPU.js could not be loaded: ${(e as Error).message}` }));
  }
  const results: ProbeResult[] = [];
  for (const mode of modes) {
    try {
      results.push({ mode, backend: report(await setBackendAsync('gpu', { gpuMode: mode })), error: null });
    } catch (e) {
      results.push({ mode, backend: null, error: (e as Error).message });
    } finally {
      setBackend('cpu');
    }
  }
  return results;
}

export function gateSpec(s: DemoSettings): GateSpec {
  switch (s.gate) {
    case 'dselect-k':
    case 'dselect-k-per-example':
      return { type: 'dselect-k', k: s.k, gamma: s.gamma, entropyWeight: s.entropyWeight, perExample: s.gate === 'dselect-k-per-example' };
    case 'top-k':
      return { type: 'top-k', k: s.k };
    case 'noisy-top-k':
      return { type: 'noisy-top-k', k: s.k };
    case 'softmax':
      return { type: 'softmax', perExample: true };
  }
}

/** Steps whose losses stay on the device before they are read back together, where reads are asynchronous only (webgpu). */
const READ_EVERY_ASYNC = 16;

/** Trains one model as `s` says with `fitAsync` (one code path for every backend), posting its progress; resolves when training ends. */
export async function train(s: DemoSettings, post: (m: FromWorker) => void): Promise<void> {
  const started = performance.now();
  const backendAtStart = await activateBackend(s.backend);
  if (!backendAtStart.readsSync && (s.gate === 'top-k' || s.gate === 'noisy-top-k')) {
    throw new Error(
      `${GATE_LABELS[s.gate]} routes on the host (it reads the top-k indices every step), which ${backendAtStart.mode} cannot: ` +
        'it reads back only asynchronously. Choose DSelect-k or softmax here, or another backend',
    );
  }
  const data = generateSynthetic({ numTasks: s.tasks, numGroups: s.groups, numTrain: s.trainSize, numVal: 512, numTest: 1, seed: s.seed });
  const model = buildMMoE({
    inputDim: data.input.shape[0] as number,
    numTasks: s.tasks,
    numExperts: s.experts,
    expertHidden: [16],
    expertOutputDim: 8,
    gate: gateSpec(s),
    seed: s.seed + 1,
  });
  const probeRows = data.val.x.slice([0, 0], [Math.min(GATE_PROBE_ROWS, data.val.size), data.val.x.shape[1]!]);
  const gates = new GateSnapshots(
    () => readGates(model, probeRows),
    (at, g) => post({ type: 'gates', at, gates: g }),
  );
  const batches = Math.ceil(s.trainSize / s.batchSize);
  const readEvery = backendAtStart.readsSync ? 0 : READ_EVERY_ASYNC;
  post({ type: 'started', backend: backendAtStart, taskGroups: groupsOf(data.taskGroups, s.tasks), batches, readEvery, setupSeconds: (performance.now() - started) / 1000 });
  post({ type: 'gates', at: 0, gates: await readGates(model, probeRows) });

  await fitAsync(model, data.train, {
    epochs: s.epochs,
    batchSize: s.batchSize,
    lr: s.lr,
    seed: s.seed + 2,
    validation: data.val,
    readEvery,
    onBatch: (p) => {
      const at = p.epoch + (p.batch + 1) / p.batches;
      post({ type: 'step', at, objective: p.loss / s.tasks });
      gates.request(at);
    },
    onEpoch: (m) => {
      const report: EpochReport = {
        epoch: m.epoch,
        loss: m.loss / s.tasks,
        taskLosses: m.taskLosses,
        regularization: m.regularization,
        validationLoss: (m.validation?.loss ?? NaN) / s.tasks,
        validationTaskLosses: m.validation?.taskLosses ?? [],
        seconds: m.seconds,
      };
      gates.request(m.epoch + 1, true);
      post({ type: 'epoch', report, backend: currentBackend() });
    },
  });
  const finalGates = await gates.final();
  post({ type: 'done', epochs: s.epochs, seconds: (performance.now() - started) / 1000, backend: currentBackend(), gates: finalGates });
}

function groupsOf(taskGroups: Int32Array | undefined, tasks: number): number[] {
  return taskGroups ? Array.from(taskGroups) : new Array<number>(tasks).fill(0);
}

function currentBackend(): BackendReport {
  return report(getBackend());
}

/** A plain copy of what getBackend() says (the gpu backend adds device, adapter, requested mode, degraded kernels). */
function report(info: BackendInfo): BackendReport {
  const extra = info as BackendInfo & Partial<Omit<BackendReport, 'name' | 'mode' | 'fallbacks'>>;
  return {
    name: info.name,
    mode: info.mode,
    kernels: info.kernels,
    requestedMode: extra.requestedMode,
    device: extra.device,
    adapter: extra.adapter ? { ...extra.adapter } : extra.adapter,
    readsSync: extra.readsSync ?? true,
    fallbacks: [...info.fallbacks],
    fallbacksUsed: extra.fallbacksUsed ? [...extra.fallbacksUsed] : undefined,
    degraded: extra.degraded ? extra.degraded.map((d) => ({ ...d })) : undefined,
  };
}
