import './style.css';
import { BROWSER_GPU_MODES, isBackendChoice } from './backends.js';
import { fillBackendSelect, showBackend, showProbe } from './backend-panel.js';
import { fillGateSelect, readForm, setRunning, syncEnabled, writeForm } from './controls.js';
import { GateHeatmap } from './gate-heatmap.js';
import { LossChart } from './loss-chart.js';
import type { BackendReport, EpochReport, FromWorker, GateSnapshot, ProbeResult, ToWorker } from './protocol.js';
import { settingsFromQuery, settingsToQuery, type DemoSettings } from './settings.js';
import { StallMeter } from './stall-meter.js';

/** A finished (or stopped, or failed) run, as the page saw it. */
export interface RunRecord {
  settings: DemoSettings;
  status: 'done' | 'stopped' | 'error';
  backend: BackendReport | null;
  /** Steps whose losses stayed on the device before one readback (0: each step read at once); null before the run started. */
  readEvery: number | null;
  epochs: EpochReport[];
  gates: GateSnapshot[];
  seconds: number | null;
  error: string | null;
  /** Longest the page's main thread was blocked while this run trained. */
  longestStallMs: number;
}

/** The page's state, also on `window.dselectkDemo` (for the browser test, and for a look in DevTools). */
export interface DemoState {
  status: 'idle' | 'starting' | 'running' | RunRecord['status'];
  current: RunRecord | null;
  runs: RunRecord[];
  probe: ProbeResult[] | null;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const form = $<HTMLFormElement>('controls');
const statusLine = $<HTMLSpanElement>('status');
const gateSummary = $<HTMLSpanElement>('gate-summary');
const formErrors = $<HTMLParagraphElement>('form-errors');
const backendInfo = $<HTMLElement>('backend-info');
const chart = new LossChart($('loss-chart'));
const heatmap = new GateHeatmap($<HTMLCanvasElement>('heatmap'));
const stalls = new StallMeter((ms) => ($('heartbeat').textContent = `main thread: longest stall ${Math.round(ms)} ms during this run (training runs in a Web Worker)`));

const state: DemoState = { status: 'idle', current: null, runs: [], probe: null };
(globalThis as unknown as { dselectkDemo: DemoState }).dselectkDemo = state;

let worker: Worker | null = null;
let batches = 1;
let stepTimes: number[] = [];

function newWorker(): Worker {
  return new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module' });
}

function setStatus(text: string, kind: 'idle' | 'running' | 'done' | 'error' = 'idle'): void {
  statusLine.textContent = text;
  statusLine.className = `status ${kind}`;
}

function finish(status: RunRecord['status'], error: string | null = null): void {
  const run = state.current;
  worker?.terminate();
  worker = null;
  if (!run) return;
  run.status = status;
  run.error = error;
  run.longestStallMs = stalls.stop();
  state.runs.push(run);
  state.current = null;
  state.status = status;
  setRunning(form, false);
}

function start(settings: DemoSettings): void {
  if (worker) finish('stopped');
  history.replaceState(null, '', `?${settingsToQuery(settings).toString()}`);
  chart.reset();
  heatmap.clear();
  gateSummary.textContent = '';
  stepTimes = [];
  state.current = { settings, status: 'done', backend: null, readEvery: null, epochs: [], gates: [], seconds: null, error: null, longestStallMs: 0 };
  state.status = 'starting';
  showBackend(backendInfo, null, settings.backend);
  setStatus(settings.backend === 'cpu' ? 'starting…' : 'loading GPU.js and compiling kernels…', 'running');
  setRunning(form, true);
  stalls.start();
  worker = newWorker();
  worker.onmessage = (e: MessageEvent<FromWorker>) => onTrainMessage(e.data, settings);
  worker.onerror = (e) => {
    setStatus(`worker failed: ${e.message}`, 'error');
    finish('error', e.message);
  };
  const msg: ToWorker = { type: 'train', settings };
  worker.postMessage(msg);
}

function onTrainMessage(m: FromWorker, settings: DemoSettings): void {
  const run = state.current;
  if (!run) return;
  switch (m.type) {
    case 'started':
      state.status = 'running';
      run.backend = m.backend;
      run.readEvery = m.readEvery;
      batches = m.batches;
      heatmap.setGroups(m.taskGroups);
      showBackend(backendInfo, m.backend, settings.backend, m.readEvery);
      if (m.backend.name !== 'cpu') setStatus('training: the first steps build the GPU kernels…', 'running');
      break;
    case 'step': {
      chart.addStep(m.at, m.objective);
      const now = performance.now();
      stepTimes.push(now);
      while (stepTimes.length > 1 && now - stepTimes[0]! > 2000) stepTimes.shift();
      const rate = stepTimes.length > 1 ? ((stepTimes.length - 1) * 1000) / (now - stepTimes[0]!) : 0;
      const epoch = Math.min(settings.epochs, Math.floor(m.at - 1e-9) + 1);
      const step = Math.round((m.at - Math.floor(m.at - 1e-9)) * batches);
      setStatus(`epoch ${epoch}/${settings.epochs} · step ${step}/${batches} · ${rate.toFixed(0)} steps/s`, 'running');
      break;
    }
    case 'gates':
      run.gates = m.gates;
      heatmap.update(m.gates);
      gateSummary.textContent = summarizeGates(m.gates);
      break;
    case 'epoch':
      run.epochs.push(m.report);
      run.backend = m.backend;
      chart.addEpoch(m.report);
      showBackend(backendInfo, m.backend, settings.backend, run.readEvery);
      break;
    case 'done': {
      run.backend = m.backend;
      run.gates = m.gates;
      run.seconds = m.seconds;
      heatmap.update(m.gates);
      gateSummary.textContent = summarizeGates(m.gates);
      showBackend(backendInfo, m.backend, settings.backend, run.readEvery);
      const last = run.epochs[run.epochs.length - 1];
      setStatus(`done: ${m.epochs} epochs in ${m.seconds.toFixed(1)} s · validation MSE ${last ? last.validationLoss.toFixed(4) : '—'}`, 'done');
      finish('done');
      break;
    }
    case 'error':
      setStatus(m.message, 'error');
      finish('error', m.message);
      break;
    case 'probe':
      break;
  }
}

function summarizeGates(gates: GateSnapshot[]): string {
  const dselect = gates.filter((g) => g.binarySelectors !== null);
  const active = gates.reduce((acc, g) => acc + g.selected.length, 0) / Math.max(1, gates.length);
  const binary = dselect.length > 0 ? ` · binary ${dselect.filter((g) => g.binarySelectors === 1).length}/${dselect.length}` : '';
  return `${active.toFixed(2)} experts/task${binary}`;
}

/** Asks each GPU.js mode, in a worker of its own, whether it starts here and on what. */
function probeGpuModes(): void {
  const probe = newWorker();
  probe.onmessage = (e: MessageEvent<FromWorker>) => {
    if (e.data.type !== 'probe') return;
    state.probe = e.data.results;
    showProbe($('probe'), e.data.results);
    fillBackendSelect(form.elements.namedItem('backend') as HTMLSelectElement, e.data.results);
    probe.terminate();
  };
  const msg: ToWorker = { type: 'probe', modes: BROWSER_GPU_MODES };
  probe.postMessage(msg);
}

function render(): void {
  chart.render();
  heatmap.render();
  requestAnimationFrame(render);
}

fillGateSelect(form);
fillBackendSelect(form.elements.namedItem('backend') as HTMLSelectElement, null);
const query = new URLSearchParams(location.search);
const initial = settingsFromQuery(query, isBackendChoice);
writeForm(form, initial.settings);
formErrors.textContent = initial.errors.join('; ');
form.addEventListener('change', () => syncEnabled(form));
form.addEventListener('submit', (e) => {
  e.preventDefault();
  const { settings, errors } = readForm(form);
  formErrors.textContent = errors.join('; ');
  if (settings) start(settings);
});
$<HTMLButtonElement>('stop').addEventListener('click', () => {
  setStatus('stopped', 'idle');
  finish('stopped');
});
requestAnimationFrame(render);
probeGpuModes();
if (query.get('autostart') !== '0' && initial.errors.length === 0) start(initial.settings);
