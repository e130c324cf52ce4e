import { isBackendChoice } from './backends.js';
import { checkNumber, GATE_LABELS, isGateChoice, NUMERIC_LIMITS, validateSettings, type DemoSettings } from './settings.js';

/** The settings form: fills it from settings, reads it back (with errors that name the field), greys out what a gate ignores. */

type NumericField = keyof typeof NUMERIC_LIMITS;
const NUMERIC_FIELDS = Object.keys(NUMERIC_LIMITS) as NumericField[];

function field<T extends HTMLInputElement | HTMLSelectElement>(form: HTMLFormElement, name: string): T {
  const el = form.elements.namedItem(name);
  if (!el) throw new Error(`the form has no field '${name}'`);
  return el as T;
}

export function fillGateSelect(form: HTMLFormElement): void {
  field<HTMLSelectElement>(form, 'gate').replaceChildren(
    ...Object.entries(GATE_LABELS).map(([value, label]) => {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = label;
      return option;
    }),
  );
}

export function writeForm(form: HTMLFormElement, s: DemoSettings): void {
  field<HTMLSelectElement>(form, 'gate').value = s.gate;
  field<HTMLSelectElement>(form, 'backend').value = s.backend;
  for (const name of NUMERIC_FIELDS) field<HTMLInputElement>(form, name).value = String(s[name]);
  syncEnabled(form);
}

export function readForm(form: HTMLFormElement): { settings: DemoSettings | null; errors: string[] } {
  const errors: string[] = [];
  const gate = field<HTMLSelectElement>(form, 'gate').value;
  const backend = field<HTMLSelectElement>(form, 'backend').value;
  if (!isGateChoice(gate)) errors.push(`unknown gate '${gate}'`);
  if (!isBackendChoice(backend)) errors.push(`unknown backend '${backend}'`);
  const numbers = {} as Record<NumericField, number>;
  for (const name of NUMERIC_FIELDS) {
    const input = field<HTMLInputElement>(form, name);
    const value = input.value.trim() === '' ? NaN : Number(input.value);
    const e = checkNumber(name, value);
    if (e) errors.push(e);
    numbers[name] = value;
  }
  if (errors.length > 0 || !isGateChoice(gate) || !isBackendChoice(backend)) return { settings: null, errors };
  const settings: DemoSettings = { gate, backend, ...numbers };
  const cross = validateSettings(settings);
  return cross.length > 0 ? { settings: null, errors: cross } : { settings, errors: [] };
}

/** k means nothing to the softmax gate, γ and λ only to DSelect-k. */
export function syncEnabled(form: HTMLFormElement): void {
  const gate = field<HTMLSelectElement>(form, 'gate').value;
  const dselect = gate.startsWith('dselect-k');
  field<HTMLInputElement>(form, 'k').disabled = gate === 'softmax';
  field<HTMLInputElement>(form, 'gamma').disabled = !dselect;
  field<HTMLInputElement>(form, 'entropyWeight').disabled = !dselect;
}

export function setRunning(form: HTMLFormElement, running: boolean): void {
  (form.querySelector('#train') as HTMLButtonElement).textContent = running ? 'Restart' : 'Train';
  (form.querySelector('#stop') as HTMLButtonElement).disabled = !running;
}
