import { allocOverwritten, dataOf, wrapOutput } from '../../kernels/cpu/host.js';
import { convPoolReluBackwardInto, convPoolReluInto, type ConvPoolGradArrays } from './cpu-reference.js';
import { filtersOf, pooledSize, type ConvPoolReluKernels } from './kernels.js';
import { convPoolReluBackwardWasm, convPoolReluWasm, type ConvPoolGradOut } from './wasm.js';

/** The cpu kernels: WebAssembly SIMD for float32 where it applies (wasm.ts), else the JS reference. */
export const cpuConvPoolRelu: ConvPoolReluKernels = {
  grouped: true,
  forward(x, weight, bias, geo) {
    const size = pooledSize(x, weight, geo);
    const values = allocOverwritten(x.dtype, size);
    const codes = allocOverwritten(x.dtype, size);
    const [xs, ws, bs] = [dataOf(x), dataOf(weight), bias && dataOf(bias)];
    const f32 = xs instanceof Float32Array && ws instanceof Float32Array && (bs === null || bs instanceof Float32Array);
    if (!(f32 && convPoolReluWasm(xs, ws, bs, geo, values as Float32Array, codes as Float32Array) !== false)) convPoolReluInto(xs, ws, bs, geo, values, codes);
    return { values: wrapOutput(values), codes: wrapOutput(codes) };
  },
  backward(g, values, codes, x, weight, geo, needs) {
    const out = {
      x: needs.x ? allocOverwritten(x.dtype, x.size) : null,
      weight: needs.weight ? allocOverwritten(x.dtype, weight.size) : null,
      bias: needs.bias ? allocOverwritten(x.dtype, filtersOf(weight, geo)) : null,
    };
    const [gs, vs, cs, xs, ws] = [dataOf(g), dataOf(values), dataOf(codes), dataOf(x), dataOf(weight)];
    const simd =
      gs instanceof Float32Array &&
      vs instanceof Float32Array &&
      cs instanceof Float32Array &&
      xs instanceof Float32Array &&
      ws instanceof Float32Array &&
      isFloat32Grads(out) &&
      convPoolReluBackwardWasm(gs, vs, cs, xs, ws, geo, out) !== false;
    if (!simd) convPoolReluBackwardInto(gs, vs, cs, xs, ws, geo, out);
    return { x: out.x && wrapOutput(out.x), weight: out.weight && wrapOutput(out.weight), bias: out.bias && wrapOutput(out.bias) };
  },
};

function isFloat32Grads(out: ConvPoolGradArrays): out is ConvPoolGradOut {
  return [out.x, out.weight, out.bias].every((a) => a === null || a instanceof Float32Array);
}
