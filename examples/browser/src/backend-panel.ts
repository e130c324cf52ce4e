import { backendLabel, BACKEND_CHOICES, gpuModeOf } from './backends.js';
import type { BackendReport, ProbeResult } from './protocol.js';
import type { BackendChoice } from './settings.js';

/** "What runs": the backend of the current run as getBackend() reports it, and what each GPU.js mode does here. */

function executor(b: BackendReport): string {
  if (b.name === 'cpu') return 'this CPU, in a Web Worker (typed arrays + WebAssembly SIMD)';
  return b.device ?? 'not reported';
}

export function showBackend(list: HTMLElement, b: BackendReport | null, requested: BackendChoice): void {
  const rows: [string, string][] = [['asked for', backendLabel(requested)]];
  if (b) {
    rows.push(['backend', b.name]);
    rows.push(['mode that ran', b.mode]);
    rows.push(['executed by', executor(b)]);
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

/** The first sentence of an error, without the "setBackend('gpu'): " prefix. */
function shortReason(message: string): string {
  const text = message.replace(/^setBackend\('gpu'\):\s*/, '');
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
