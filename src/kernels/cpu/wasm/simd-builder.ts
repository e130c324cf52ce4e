import { FunctionBuilder, uleb, type Local } from './assembler.js';

/**
 * The shared assembler plus the scalar and f32x4/i32x4 opcodes the math and softmax kernels use
 * (encodings: WebAssembly core spec §5.4 and the fixed-width SIMD proposal). Kept apart from
 * assembler.ts so that other kernel files can extend that one without touching this.
 */
export class SimdBuilder extends FunctionBuilder {
  protected op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  protected simd(code: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(code), ...imm);
  }

  /** Four f32 lanes of `v` (V8 keeps such constants in registers across a loop by itself). */
  f32x4(v: number): this {
    return this.simd(0x0c, ...new Uint8Array(new Float32Array([v, v, v, v]).buffer));
  }
  /** Four i32 lanes of `v`. */
  i32x4(v: number): this {
    return this.simd(0x0c, ...new Uint8Array(new Int32Array([v, v, v, v]).buffer));
  }

  ret(): this { return this.op(0x0f); }

  // i32
  and(): this { return this.op(0x71); }
  or(): this { return this.op(0x72); }
  shl(): this { return this.op(0x74); }
  shrS(): this { return this.op(0x75); }
  shrU(): this { return this.op(0x76); }
  ne(): this { return this.op(0x47); }
  gtS(): this { return this.op(0x4a); }
  leS(): this { return this.op(0x4c); }
  eqz(): this { return this.op(0x45); }

  // f32 scalars
  f32Const(v: number): this {
    return this.op(0x43, ...new Uint8Array(new Float32Array([v]).buffer));
  }
  f32ReinterpretI32(): this { return this.op(0xbe); }
  f32Mul(): this { return this.op(0x94); }

  // memory
  i32Load(offset = 0): this { return this.op(0x28, 2, ...uleb(offset)); }
  // v128 memory and constants
  v128Load32Zero(offset = 0): this { return this.simd(0x5c, 2, ...uleb(offset)); }
  v128Load32Lane(lane: number, offset = 0): this { return this.simd(0x56, 2, ...uleb(offset), lane); }
  v128Store32Lane(lane: number, offset = 0): this { return this.simd(0x5a, 2, ...uleb(offset), lane); }
  // lanes
  i32x4Splat(): this { return this.simd(0x11); }
  f32x4Splat(): this { return this.simd(0x13); }
  f64x2Splat(): this { return this.simd(0x14); }
  f32x4ExtractLane(lane: number): this { return this.simd(0x1f, lane); }
  /** Shuffle of two vectors by 16 byte indices (0–15: first, 16–31: second). */
  i8x16Shuffle(bytes: readonly number[]): this { return this.simd(0x0d, ...bytes); }

  // bitwise
  v128Not(): this { return this.simd(0x4d); }
  v128And(): this { return this.simd(0x4e); }
  v128AndNot(): this { return this.simd(0x4f); }
  v128Or(): this { return this.simd(0x50); }
  v128Xor(): this { return this.simd(0x51); }
  /** (v1 & mask) | (v2 & ~mask), operands pushed in the order v1, v2, mask. */
  v128Bitselect(): this { return this.simd(0x52); }
  v128AnyTrue(): this { return this.simd(0x53); }

  // f32x4 comparisons (all-ones lanes where true)
  f32x4Eq(): this { return this.simd(0x41); }
  f32x4Ne(): this { return this.simd(0x42); }
  f32x4Lt(): this { return this.simd(0x43); }
  f32x4Gt(): this { return this.simd(0x44); }
  f32x4Le(): this { return this.simd(0x45); }
  f32x4Ge(): this { return this.simd(0x46); }

  // i32x4
  i32x4Eq(): this { return this.simd(0x37); }
  i32x4GtS(): this { return this.simd(0x3b); }
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4ShrS(): this { return this.simd(0xac); }
  i32x4ShrU(): this { return this.simd(0xad); }
  i32x4Add(): this { return this.simd(0xae); }
  i32x4Sub(): this { return this.simd(0xb1); }
  i32x4MaxS(): this { return this.simd(0xb8); }
  i32x4MinS(): this { return this.simd(0xb6); }

  // f32x4 arithmetic
  f32x4Abs(): this { return this.simd(0xe0); }
  f32x4Neg(): this { return this.simd(0xe1); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Div(): this { return this.simd(0xe7); }
  /** IEEE-style min/max: NaN in either operand gives NaN; −0 < +0 (several instructions on x86). */
  f32x4Min(): this { return this.simd(0xe8); }
  f32x4Max(): this { return this.simd(0xe9); }
  /** Pseudo-min/max, one instruction on x86: pmin(a, b) = b < a ? b : a, pmax(a, b) = a < b ? b : a. */
  f32x4Pmin(): this { return this.simd(0xea); }
  f32x4Pmax(): this { return this.simd(0xeb); }
  f32x4Nearest(): this { return this.simd(0x6a); }
  f32x4ConvertI32x4S(): this { return this.simd(0xfa); }

  // f64x2 (float64 accumulators of float32 sums)
  f64x2PromoteLow(): this { return this.simd(0x5f); }
  f64x2ExtractLane(lane: number): this { return this.simd(0x21, lane); }
  f64Div(): this { return this.op(0xa3); }
  f64Const(v: number): this {
    return this.op(0x44, ...new Uint8Array(new Float64Array([v]).buffer));
  }
  f32DemoteF64(): this { return this.op(0xb6); }
  f64PromoteF32(): this { return this.op(0xbb); }

  /** while (counter < end) { body; counter += step } (the body runs only if counter < end). */
  forRange(counter: Local, end: Local, step: number, body: () => void): this {
    return this.ifElse(
      () => this.get(counter).get(end).ltS(),
      () =>
        this.doWhile(
          () => {
            body();
            this.get(counter).i32(step).add().set(counter);
          },
          () => this.get(counter).get(end).ltS(),
        ),
    );
  }
}
