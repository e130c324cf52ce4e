import { Rng } from '../../src/tensor/random.js';

/**
 * Seeded mutations for the loader fuzzer: byte-level (bit flips, truncations, insertions, length
 * lies in 32-bit fields) and JSON-level (odd values in any field, deleted and added keys, `__proto__`,
 * paths with `..`, huge dims, deep nesting). Every mutation says what it did, so a failure can be
 * replayed from (seed, index) alone.
 */
export interface Mutated<T> {
  value: T;
  what: string;
}

const INTERESTING_U32 = [0, 1, 2, 7, 8, 255, 256, 4095, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

/** One random byte-level change of `bytes` (a fresh array; `bytes` is not modified). */
export function mutateBytes(rng: Rng, bytes: Uint8Array): Mutated<Uint8Array> {
  const n = bytes.length;
  const at = (): number => (n === 0 ? 0 : rng.int(n));
  switch (rng.int(9)) {
    case 0: {
      const out = Uint8Array.from(bytes);
      const flips = 1 + rng.int(8);
      const where: number[] = [];
      for (let i = 0; i < flips && n > 0; i++) {
        const p = at();
        const bit = rng.int(8);
        out[p] = out[p]! ^ (1 << bit);
        where.push(p * 8 + bit);
      }
      return { value: out, what: `flip bits ${where.join(',')}` };
    }
    case 1: {
      const out = Uint8Array.from(bytes);
      const p = at();
      const v = pick(rng, [0, 255, 0x7f, 0x80, rng.int(256)]);
      if (n > 0) out[p] = v;
      return { value: out, what: `byte ${p} = ${v}` };
    }
    case 2: {
      const len = rng.int(n + 1);
      return { value: bytes.slice(0, len), what: `truncate to ${len} of ${n}` };
    }
    case 3: {
      const extra = rng.uniform() < 0.5 ? randomBytes(rng, 1 + rng.int(64)) : new Uint8Array(1 + rng.int(4096));
      const out = new Uint8Array(n + extra.length);
      out.set(bytes);
      out.set(extra, n);
      return { value: out, what: `append ${extra.length} bytes` };
    }
    case 4: {
      const p = at();
      const len = 1 + rng.int(Math.max(1, Math.min(64, n - p)));
      const out = new Uint8Array(Math.max(0, n - len));
      out.set(bytes.subarray(0, p));
      out.set(bytes.subarray(p + len), p);
      return { value: out, what: `delete ${len} bytes at ${p}` };
    }
    case 5: {
      const p = at();
      const chunk = rng.uniform() < 0.5 ? randomBytes(rng, 1 + rng.int(32)) : bytes.slice(p, p + 1 + rng.int(32));
      const out = new Uint8Array(n + chunk.length);
      out.set(bytes.subarray(0, p));
      out.set(chunk, p);
      out.set(bytes.subarray(p), p + chunk.length);
      return { value: out, what: `insert ${chunk.length} bytes at ${p}` };
    }
    case 6:
    case 7: {
      // a length lie: an interesting 32-bit value over 4 bytes, big or little endian, often aligned
      const out = Uint8Array.from(bytes);
      if (n < 4) return { value: out, what: 'no-op (too short for a 32-bit field)' };
      const p = rng.uniform() < 0.6 ? 4 * rng.int(Math.floor(n / 4)) : rng.int(n - 3);
      const v = rng.uniform() < 0.8 ? pick(rng, INTERESTING_U32) : pick(rng, [n, n + 1, n - 1, n * 1000, rng.nextUint32()]) >>> 0;
      const little = rng.uniform() < 0.5;
      new DataView(out.buffer).setUint32(p, v, little);
      return { value: out, what: `uint32 ${little ? 'LE' : 'BE'} at ${p} = ${v}` };
    }
    default: {
      const out = Uint8Array.from(bytes);
      const from = at();
      const to = at();
      const len = Math.min(1 + rng.int(16), n - from, n - to);
      out.copyWithin(to, from, from + Math.max(0, len));
      return { value: out, what: `copy ${len} bytes ${from} → ${to}` };
    }
  }
}

/** Values a hostile or careless JSON file might hold where a number, string or array is expected. */
export function oddValue(rng: Rng, secretPath: string): Mutated<unknown> {
  const values: [string, () => unknown][] = [
    ['null', () => null],
    ['true', () => true],
    ['-1', () => -1],
    ['0', () => 0],
    ['1.5', () => 1.5],
    ['2^53', () => 2 ** 53],
    ['1e308', () => 1e308],
    ['"x"', () => 'x'],
    ['""', () => ''],
    ['[]', () => []],
    ['{}', () => ({})],
    ['"__proto__"', () => '__proto__'],
    ['"../secret.bin"', () => '../secret.bin'],
    ['"../../secret.bin"', () => '../../secret.bin'],
    ['absolute secret path', () => secretPath],
    ['"sub/../weights.bin"', () => 'sub/../weights.bin'],
    ['".."', () => '..'],
    ['"."', () => '.'],
    ['"weights.bin\\u0000"', () => 'weights.bin\u0000'],
    ['[1e9, 1e9]', () => [1e9, 1e9]],
    ['[2^31, 2]', () => [2 ** 31, 2]],
    ['[4294967295, 4294967295, 4294967295]', () => [4294967295, 4294967295, 4294967295]],
    ['[-1]', () => [-1]],
    ['[1.5]', () => [1.5]],
    ['[0, 1e300]', () => [0, 1e300]],
    ['{"__proto__": {"polluted": 1}}', () => JSON.parse('{"__proto__": {"polluted": 1}}')],
    ['[null]', () => [null]],
    ['"float16"', () => 'float16'],
    ['random integer', () => rng.nextUint32()],
  ];
  const [what, make] = pick(rng, values);
  return { value: make(), what };
}

/** Every path (of keys and indices) inside a JSON value, the root included. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  Object.defineProperty(node, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
  return root;
}

function deleteAt(root: unknown, path: (string | number)[]): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (Array.isArray(node)) node.splice(Number(last), 1);
  else delete node[last];
}

/**
 * One JSON-level change of `value` (a deep copy is changed), returned as UTF-8 bytes: most mutations
 * keep the JSON valid so that the loader's own checks, not the parser, are exercised.
 */
export function mutateJson(rng: Rng, value: unknown, secretPath: string): Mutated<Uint8Array> {
  const m = mutateJsonText(rng, value, secretPath);
  return typeof m.value === 'string' ? { value: new TextEncoder().encode(m.value), what: m.what } : (m as Mutated<Uint8Array>);
}

function mutateJsonText(rng: Rng, value: unknown, secretPath: string): Mutated<string | Uint8Array> {
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  const all = paths(copy);
  const path = pick(rng, all);
  const where = path.length === 0 ? '(root)' : path.join('.');
  switch (rng.int(8)) {
    case 0:
    case 1:
    case 2: {
      const odd = oddValue(rng, secretPath);
      return { value: JSON.stringify(setAt(copy, path, odd.value)), what: `${where} = ${odd.what}` };
    }
    case 3: {
      if (path.length === 0) return { value: JSON.stringify(copy), what: 'no-op' };
      deleteAt(copy, path);
      return { value: JSON.stringify(copy), what: `delete ${where}` };
    }
    case 4: {
      // numbers nudged: length and offset lies by a little or by a lot
      const numeric = all.filter((p) => typeof p.reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], copy) === 'number');
      if (numeric.length === 0) return { value: JSON.stringify(copy), what: 'no-op (no number)' };
      const p = pick(rng, numeric);
      const old = p.reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], copy) as number;
      const next = pick(rng, [old + 1, old - 1, old + 8, old - 8, old * 2, Math.floor(old / 2), old + 4, -old, old * 1e6]);
      return { value: JSON.stringify(setAt(copy, p, next)), what: `${p.join('.')} ${old} → ${next}` };
    }
    case 5: {
      // a tensor entry renamed to a name objects treat specially, or duplicated
      const tensors = (copy as { tensors?: unknown }).tensors;
      if (!Array.isArray(tensors) || tensors.length === 0) return { value: JSON.stringify(copy), what: 'no-op (no tensors)' };
      const i = rng.int(tensors.length);
      if (rng.uniform() < 0.5) {
        tensors.push(JSON.parse(JSON.stringify(tensors[i])));
        return { value: JSON.stringify(copy), what: `duplicate tensors.${i}` };
      }
      const name = pick(rng, ['__proto__', 'constructor', 'hasOwnProperty', 'toString', '', 'model/__proto__', 'optim/__proto__', 'model/', 'a.b.c', '\u0000']);
      (tensors[i] as { name: unknown }).name = name;
      return { value: JSON.stringify(copy), what: `tensors.${i}.name = ${JSON.stringify(name)}` };
    }
    case 6: {
      const text = JSON.stringify(copy);
      const kind = rng.int(6);
      if (kind === 0) return { value: '['.repeat(100_000) + ']'.repeat(100_000), what: 'nesting 100000 deep' };
      if (kind === 1) return { value: '\uFEFF' + text, what: 'byte-order mark' };
      if (kind === 2) return { value: text.replace('{', '{"format": "other",'), what: 'duplicate key format' };
      if (kind === 3) return { value: text.replace(/\d+/, '1e400'), what: 'a number of 1e400 (Infinity)' };
      if (kind === 4) return { value: pick(rng, ['null', '[]', '"text"', '42', '', ' ', 'NaN', '{', '{}']), what: 'a bare JSON value' };
      return { value: text.slice(0, rng.int(text.length)), what: 'cut JSON' };
    }
    default: {
      const m = mutateBytes(rng, new TextEncoder().encode(JSON.stringify(copy)));
      return { value: m.value, what: `text bytes: ${m.what}` };
    }
  }
}
