import { buildMMoE, fit, generateSynthetic, getBackend, setBackend, type GateDiagnostics, type GateSpec, type MMoE, type Tensor } from 'dselect-k';
import { gpuModeOf } from './backends.js';
import type { BackendReport, EpochReport, FromWorker, GateSnapshot, ProbeResult } from './protocol.js';
import type { DemoSettings } from './settings.js';
import type { GpuModeRequest } from 'dselect-k/gpu';

/**
 * One training run of the page, written against `dselect-k` only (no DOM, no worker globals): the
 * worker calls it and forwards every message to the page.
 */

/** Gate snapshots are sent at most this often within an epoch (and at every epoch's end). */
const GATE_SNAPSHOT_MS = 120;
/** Rows the per-example gates are summarised over. */
const GATE_PROBE_ROWS = 256;

/** Makes `choice` the active backend; a gpu choice loads GPU.js's browser build and dselect-k/gpu first. */
export async function activateBackend(choice: DemoSettings['backend']): Promise<BackendReport> {
  const mode = gpuModeOf(choice);
  if (mode === null) return report(setBackend('cpu'));
  await loadGpuBackend();
  return report(setBackend('gpu', { gpuMode: mode }));
}

async function loadGpuBackend(): Promise<void> {
  // GPU.js's browser build defines the global `GPU` the gpu backend looks for; loaded only when asked.
  await import('gpu.js');
  const { registerGpuBackend } = await import('dselect-k/gpu');
  registerGpuBackend();
}

/** Tries each GPU.js mode: what it really runs on, or why it cannot start here. */
export async function probeGpuModes(modes: readonly GpuModeRequest[]): Promise<ProbeResult[]> {
  try {
    await loadGpuBackend();
  } catch (e) {
    return modes.map((mode) => ({ mode, backend: null, error: `GPU.js could not be loaded: ${(e as Error).message}` }));
  }
  return modes.map((mode) => {
    try {
      return { mode, backend: report(setBackend('gpu', { gpuMode: mode })), error: null };
    } catch (e) {
      return { mode, backend: null, error: (e as Error).message };
    } finally {
      setBackend('cpu');
    }
  });
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

/** Trains one model as `s` says, posting its progress; resolves when training ends. */
export async function train(s: DemoSettings, post: (m: FromWorker) => void): Promise<void> {
  const started = performance.now();
  const backendAtStart = await activateBackend(s.backend);
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
  const snapshot = (): GateSnapshot[] => gateSnapshots(model, probeRows);
  const batches = Math.ceil(s.trainSize / s.batchSize);
  post({ type: 'started', backend: backendAtStart, taskGroups: groupsOf(data.taskGroups, s.tasks), batches, setupSeconds: (performance.now() - started) / 1000 });
  post({ type: 'gates', at: 0, gates: snapshot() });

  let lastSnapshot = performance.now();
  fit(model, data.train, {
    epochs: s.epochs,
    batchSize: s.batchSize,
    lr: s.lr,
    seed: s.seed + 2,
    validation: data.val,
    onBatch: (p) => {
      const at = p.epoch + (p.batch + 1) / p.batches;
      post({ type: 'step', at, objective: p.loss / s.tasks });
      if (performance.now() - lastSnapshot >= GATE_SNAPSHOT_MS) {
        post({ type: 'gates', at, gates: snapshot() });
        lastSnapshot = performance.now();
      }
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
      post({ type: 'gates', at: m.epoch + 1, gates: snapshot() });
      lastSnapshot = performance.now();
      post({ type: 'epoch', report, backend: currentBackend() });
    },
  });
  post({ type: 'done', epochs: s.epochs, seconds: (performance.now() - started) / 1000, backend: currentBackend(), gates: snapshot() });
}

function gateSnapshots(model: MMoE, probeRows: Tensor): GateSnapshot[] {
  return model.diagnostics(probeRows).map((d: GateDiagnostics) => ({ weights: d.meanWeights, binarySelectors: d.binarySelectorFraction, selected: d.selectedExperts }));
}

function groupsOf(taskGroups: Int32Array | undefined, tasks: number): number[] {
  return taskGroups ? Array.from(taskGroups) : new Array<number>(tasks).fill(0);
}

function currentBackend(): BackendReport {
  return report(getBackend());
}

/** A plain copy of what getBackend() says (the gpu backend adds device, requested mode, degraded kernels). */
function report(info: ReturnType<typeof getBackend>): BackendReport {
  const extra = info as Partial<BackendReport>;
  return {
    name: info.name,
    mode: info.mode,
    kernels: info.kernels,
    requestedMode: extra.requestedMode,
    device: extra.device,
    fallbacks: [...info.fallbacks],
    fallbacksUsed: extra.fallbacksUsed ? [...extra.fallbacksUsed] : undefined,
    degraded: extra.degraded ? extra.degraded.map((d) => ({ ...d })) : undefined,
  };
}
