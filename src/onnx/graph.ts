import { ATTRIBUTE_TYPE, ONNX_BOOL, ONNX_FLOAT, ONNX_INT64 } from './proto.js';

/** A node attribute, typed explicitly (ONNX distinguishes INT from FLOAT). */
export type Attribute = { int: number } | { float: number } | { ints: readonly number[] } | { tensor: TensorObject };

/** onnx.TensorProto as a plain object. */
export interface TensorObject {
  name?: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

interface NodeObject {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  attribute: Record<string, unknown>[];
}

/**
 * Builds an ONNX graph: unique value names, initializers (float32 weights and int64/bool constants in
 * little-endian raw_data), and nodes. Ops whose signature changed between opsets (axes as attribute or
 * input) are emitted for the target opset here, so the layer emitters stay opset-agnostic.
 */
export class OnnxGraph {
  readonly nodes: NodeObject[] = [];
  readonly initializers: TensorObject[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();

  constructor(readonly opset: number) {}

  /** A fresh value name starting with `prefix`. */
  fresh(prefix: string): string {
    // A layer exported at the root has the empty path: its names start with '.', which is dropped.
    const base = prefix.replace(/^\.+/, '').replace(/[^A-Za-z0-9_./-]/g, '_') || 'value';
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Reserves a name given by the caller (graph inputs and outputs). */
  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`exportOnnx: value name '${name}' is used twice`);
    this.used.add(name);
    return name;
  }

  /** A float32 initializer (a model weight). */
  floats(name: string, values: ArrayLike<number>, dims: readonly number[]): string {
    const data = Float32Array.from(values as ArrayLike<number>);
    return this.initializer(this.fresh(name), ONNX_FLOAT, dims, new Uint8Array(data.buffer));
  }

  /** An int64 constant (shapes, axes, k), shared between nodes that need the same values. */
  int64s(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    const name = this.initializer(this.fresh(`const_i64_${values.join('_').slice(0, 24)}`), ONNX_INT64, dims, new Uint8Array(data.buffer));
    this.constants.set(key, name);
    return name;
  }

  /** A float32 scalar or vector constant, shared like int64s. */
  constant(values: readonly number[], dims: readonly number[] = []): string {
    const key = `f32:${dims.join('x')}:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.floats('const_f32', values, dims);
    this.constants.set(key, name);
    return name;
  }

  /** A bool constant. */
  bools(name: string, values: readonly boolean[], dims: readonly number[]): string {
    return this.initializer(this.fresh(name), ONNX_BOOL, dims, Uint8Array.from(values.map((b) => (b ? 1 : 0))));
  }

  private initializer(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): string {
    this.initializers.push({ name, dims: [...dims], data_type: dataType, raw_data: raw });
    return name;
  }

  /** Appends a node; returns its output names (`outputs` of them, named after `prefix`). */
  nodeN(op: string, inputs: readonly string[], attributes: Record<string, Attribute>, outputs: number, prefix = op): string[] {
    const out = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? prefix : `${prefix}_${i}`));
    this.nodes.push({
      input: [...inputs],
      output: out,
      name: this.fresh(`node_${prefix}`),
      op_type: op,
      attribute: Object.entries(attributes).map(([name, a]) => encodeAttribute(name, a)),
    });
    return out;
  }

  node(op: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, prefix = op): string {
    return this.nodeN(op, inputs, attributes, 1, prefix)[0]!;
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    return this.node('Unsqueeze', [x, this.int64s(axes)]);
  }

  reshape(x: string, shape: readonly number[]): string {
    return this.node('Reshape', [x, this.int64s(shape)]);
  }

  /** ReduceSum / ReduceProd / ReduceMean over `axes`: axes are an input from opset 13 (Sum) or 18 (the others). */
  reduce(op: 'ReduceSum' | 'ReduceProd' | 'ReduceMean', x: string, axes: readonly number[], keepdims: boolean): string {
    const axesAsInput = op === 'ReduceSum' ? this.opset >= 13 : this.opset >= 18;
    return axesAsInput
      ? this.node(op, [x, this.int64s(axes)], { keepdims: { int: keepdims ? 1 : 0 } })
      : this.node(op, [x], { axes: { ints: axes }, keepdims: { int: keepdims ? 1 : 0 } });
  }
}

function encodeAttribute(name: string, a: Attribute): Record<string, unknown> {
  if ('int' in a) return { name, type: ATTRIBUTE_TYPE.INT, i: a.int };
  if ('float' in a) return { name, type: ATTRIBUTE_TYPE.FLOAT, f: a.float };
  if ('ints' in a) return { name, type: ATTRIBUTE_TYPE.INTS, ints: [...a.ints] };
  return { name, type: ATTRIBUTE_TYPE.TENSOR, t: a.tensor };
}
