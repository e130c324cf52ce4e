/** Element types the engine computes in. float64 is for gradcheck and exact references. */
export type DType = 'float32' | 'float64';
export type TypedArray = Float32Array | Float64Array;

export const DEFAULT_DTYPE: DType = 'float32';

export function allocArray(dtype: DType, length: number): TypedArray {
  return dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
}

export function dtypeOfArray(data: TypedArray): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

export function assertDType(op: string, value: unknown): DType {
  if (value === 'float32' || value === 'float64') return value;
  throw new Error(`${op}: unknown dtype ${JSON.stringify(value)} (expected 'float32' or 'float64')`);
}
