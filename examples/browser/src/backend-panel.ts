import { backendLabel, BACKEND_CHOICES, gpuModeOf } from './backends.js';
import type { AdapterReport, BackendReport, ProbeResult } from './protocol.js';
import type { BackendChoice } from './settings.js';

/** "What runs": the backend of the current run as getBackend() reports it, and what each GPU.js mode does here. */

function executor(b: BackendReport): string {
  if (b.name === 'cpu') return 'this CPU, in a Web Worker (typed arrays + WebAssembly SIMD)';
  return b.device ?? 'not reported';
}

/** The WebGPU adapter: vendor, architecture, fallback adapter or not; a software (fallback) adapter is never called a GPU. */
export function describeAdapter(a: AdapterReport): string {
  const name = [a.vendor && `vendor ${a.vendor}`, a.architecture && `architecture ${a.architecture}`, a.device && `device ${a.device}`].filter(Boolean).join(', ') || 'unnamed adapter';
  const fallback = a.isFallbackAdapter === null ? 'fallback flag not reported' : a.isFallbackAdapter ? 'fallback adapter' : 'not a fallback adapter';
  const kind = a.software ? 'software: runs on the CPU, not a GPU' : 'hardware adapter (a GPU)';
  return `${name}; ${fallback} — ${kind}`;
}

function readback(b: BackendReport, readEvery: number | null): string {
  if (b.readsSync) return 'synchronous (each step\'s losses read as it runs)';
  const every = readEvery ? `losses read every ${readEvery} steps and at each epoch's end` : 'losses read in batches';
  return `asynchronous only (await data()): steps queue on the device, ${every}`;
}

/** `readEvery`: the run's deferred loss readback (null before a run has started). */
export function showBackend(list: HTMLElement, b: BackendReport | null, requested: BackendChoice, readEvery: number | null = null): void {
  const rows: [string, string][] = [['asked for', backendLabel(requested)]];
  if (b) {
    rows.push(['backend', b.name]);
    rows.push(['mode that ran', b.mode]);
    rows.push(['executed by', executor(b)]);
    if (b.adapter) rows.push(['WebGPU adapter', describeAdapter(b.adapter)]);
    rows.push(['readback', readback(b, readEvery)]);
    if (b.kernels) rows.push(['kernels', b.kernels]);
    const fallbacks = b.fallbacksUsed?.length ? b.fallbacksUsed : [];
    if (b.name !== 'cpu') rows.push(['on the cpu kernels', fallbacks.length ? fallbacks.join(', ') : 'none so far']);
    if (b.degraded?.length) rows.push(['degraded', b.degraded.map((d) => `${d.kernel} → ${d.mode}`).join('; ')]);
  }
  list.replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
}

/** One line per device: the modes that run on it (auto with the mode it picked), then each mode that cannot start, with why. */
export function showProbe(list: HTMLElement, results: readonly ProbeResult[]): void {
  const byDevice = new Map<string, string[]>();
  for (const r of results) {
    if (!r.backend) continue;
    const device = r.backend.device ?? 'an unreported device';
    const name = r.mode === 'auto' ? `auto → ${r.backend.mode}` : r.mode;
    byDevice.set(device, [...(byDevice.get(device) ?? []), name]);
  }
  const line = (ok: boolean, modes: string, text: string, title = ''): HTMLLIElement => {
    const li = document.createElement('li');
    const mark = document.createElement('span');
    mark.className = ok ? 'ok' : 'no';
    mark.textContent = ok ? '✓ ' : '✗ ';
    const name = document.createElement('b');
    name.textContent = modes;
    li.append(mark, name, document.createTextNode(` — ${text}`));
    li.title = title;
    return li;
  };
  list.replaceChildren(
    ...[...byDevice].map(([device, modes]) => line(true, modes.join(', '), device)),
    ...results.filter((r) => !r.backend).map((r) => line(false, r.mode, shortReason(r.error ?? 'unknown reason'), r.error ?? '')),
  );
}

/** The first sentence of an error, without the "setBackend('gpu'): " / "setBackendAsync('gpu', { … }): " prefix. */
function shortReason(message: string): string {
  const text = message.replace(/^setBackend(Async)?\('gpu'(, \{[^}]*\})?\):\s*/, '');
  const cut = text.search(/[.;](\s|$)/);
  return cut > 0 ? text.slice(0, cut) : text;
}

/** Fills the backend select; modes the probe found unable to start are disabled, with the reason. */
export function fillBackendSelect(select: HTMLSelectElement, probe: readonly ProbeResult[] | null): void {
  const current = select.value;
  select.replaceChildren(
    ...BACKEND_CHOICES.map((choice) => {
      const option = document.createElement('option');
      option.value = choice;
      const mode = gpuModeOf(choice);
      const found = mode === null ? null : probe?.find((r) => r.mode === mode);
      option.textContent = backendLabel(choice) + (found && !found.backend ? ' (unavailable)' : '');
      if (found && !found.backend) {
        option.disabled = true;
        option.title = found.error ?? '';
      }
      return option;
    }),
  );
  if (current) select.value = current;
}
