import { InvalidArgumentError, Option, type Command } from 'commander';

/** Argument parsers that reject bad values with a one-line reason (commander prints it with the flag). */

export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected an integer, got '${value}'.`);
    if (n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `must be an integer ≥ ${min}.` : `must be an integer in [${min}, ${max}].`);
    }
    return n;
  };
}

export function numberArg(opts: { min?: number; max?: number; exclusiveMin?: boolean } = {}): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${value}'.`);
    if (opts.min !== undefined && (opts.exclusiveMin ? n <= opts.min : n < opts.min)) {
      throw new InvalidArgumentError(`must be ${opts.exclusiveMin ? '>' : '≥'} ${opts.min}.`);
    }
    if (opts.max !== undefined && n > opts.max) throw new InvalidArgumentError(`must be ≤ ${opts.max}.`);
    return n;
  };
}

/** A file or folder path: not empty (resolving '' would silently mean the current directory). */
export function pathArg(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('expected a path, got an empty string.');
  return value;
}

/** Comma-separated positive integers, or 'none' for an empty list (e.g. no hidden layer). */
export function widthsArg(value: string): number[] {
  if (value.trim() === 'none' || value.trim() === '') return [];
  const parts = value.split(',').map((s) => s.trim());
  return parts.map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1) throw new InvalidArgumentError(`expected comma-separated positive integers (or 'none'), got '${value}'.`);
    return n;
  });
}

/** Comma-separated values from `allowed`; `renamed` maps deprecated spellings to current ones (with a notice). */
export function listArg(allowed: readonly string[], renamed: Readonly<Record<string, string>> = {}, flag = 'the list'): (value: string) => string[] {
  return (value) => {
    const items = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map((item) => {
        const current = renamed[item];
        if (current === undefined) return item;
        deprecationNotice(`'${item}' in ${flag} is deprecated; use '${current}'`);
        return current;
      });
    if (items.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${allowed.join(', ')}.`);
    for (const item of items) {
      if (!allowed.includes(item)) throw new InvalidArgumentError(`unknown value '${item}' (allowed: ${allowed.join(', ')}).`);
    }
    if (new Set(items).size !== items.length) throw new InvalidArgumentError(`lists a value twice: '${value}'.`);
    return items;
  };
}

export function choiceOption(flags: string, description: string, choices: readonly string[], defaultValue?: string): Option {
  const o = new Option(flags, description).choices(choices);
  return defaultValue === undefined ? o : o.default(defaultValue);
}

/** Which options the user typed (as opposed to defaults), by attribute name. */
export function explicitOptions(cmd: Command): Set<string> {
  const out = new Set<string>();
  for (const o of cmd.options) {
    const key = o.attributeName();
    const source = cmd.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') out.add(key);
  }
  return out;
}

/** The training options shared by the image MoE commands (balance, damex). */
/** Every command writes into runs/<command> unless --out says otherwise. */
export function defaultOutDir(command: string): string {
  return `runs/${command}`;
}

export function addImageTrainingOptions(cmd: Command, defaultOut: string): Command {
  return cmd
    .option('--epochs <n>', 'training epochs', integerArg(1, 100_000), 3)
    .option('--batch-size <n>', 'examples per batch', integerArg(1, 1_000_000), 64)
    .option('--lr <rate>', 'Adam learning rate', numberArg({ min: 0, exclusiveMin: true }), 1e-3)
    .option('--seed <n>', 'seed of data sampling, initialisation, shuffling and gate noise', integerArg(0), 0)
    .option('--out <dir>', 'report folder', pathArg, defaultOut)
    .option('-q, --quiet', 'no progress bar');
}

/** A notice on stderr for a spelling that still works but will go away. */
export function deprecationNotice(message: string): void {
  process.stderr.write(`dselect-k: warning: ${message}\n`);
}

/**
 * A gate name: the library's spelling (`dselect-k`, `softmax`, `top-k`, `noisy-top-k`), or an earlier
 * command-line spelling (`topk`, `noisy-topk`) accepted with a deprecation notice.
 */
export function gateKindArg(flag: string, kinds: readonly string[], deprecated: Readonly<Record<string, string>>): (value: string) => string {
  return (value) => {
    if (kinds.includes(value)) return value;
    const renamed = deprecated[value];
    if (renamed !== undefined) {
      deprecationNotice(`${flag} ${value} is deprecated; use ${flag} ${renamed}`);
      return renamed;
    }
    throw new InvalidArgumentError(`Allowed choices are ${kinds.join(', ')}.`);
  };
}

/** Comma-separated names, each non-empty and listed once (column names). */
export function namesArg(value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s.length === 0)) throw new InvalidArgumentError(`expected comma-separated column names, got '${value}'.`);
  if (new Set(items).size !== items.length) throw new InvalidArgumentError(`lists a name twice: '${value}'.`);
  return items;
}

/** Comma-separated values from `allowed`, repeats allowed (one per target column). */
export function choicesArg(allowed: readonly string[]): (value: string) => string[] {
  return (value) => {
    const items = value.split(',').map((s) => s.trim());
    const bad = items.find((item) => !allowed.includes(item));
    if (bad !== undefined) throw new InvalidArgumentError(`unknown value '${bad}' (allowed: ${allowed.join(', ')}).`);
    return items;
  };
}
