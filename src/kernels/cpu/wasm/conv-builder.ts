import { FunctionBuilder, uleb, type Local, type ValType } from './assembler.js';

/** The f32 value type (the shared assembler declares i32 and v128 only). */
export const F32 = 0x7d as unknown as ValType;

/** The shared assembler plus the opcodes these kernels use (kept here so assembler.ts stays as is). */
export class Builder extends FunctionBuilder {
  private op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  private simd(code: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(code), ...imm);
  }
  i32Load(offset = 0): this { return this.op(0x28, 2, ...uleb(offset)); }
  i32Store(offset = 0): this { return this.op(0x36, 2, ...uleb(offset)); }
  ne(): this { return this.op(0x47); }
  divS(): this { return this.op(0x6d); }
  leS(): this { return this.op(0x4c); }
  gtS(): this { return this.op(0x4a); }
  and(): this { return this.op(0x71); }
  or(): this { return this.op(0x72); }
  xor(): this { return this.op(0x73); }
  shl(): this { return this.op(0x74); }
  shrU(): this { return this.op(0x76); }
  f32Mul(): this { return this.op(0x94); }
  f32Gt(): this { return this.op(0x5e); }
  f32Ne(): this { return this.op(0x5c); }
  i32TruncF32S(): this { return this.op(0xa8); }
  f32ConvertI32S(): this { return this.op(0xb2); }
  f32Const(v: number): this { return this.op(0x43, ...new Uint8Array(new Float32Array([v]).buffer)); }
  i32x4Splat(): this { return this.simd(0x11); }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4Eq(): this { return this.simd(0x41); }
  f32x4Ne(): this { return this.simd(0x42); }
  f32x4Gt(): this { return this.simd(0x44); }
  v128And(): this { return this.simd(0x4e); }
  v128Or(): this { return this.simd(0x50); }
  v128Bitselect(): this { return this.simd(0x52); }
  f32x4ConvertI32x4S(): this { return this.simd(0xfa); }
  f32x4Sub(): this { return this.simd(0xe5); }
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }
  i32x4Add(): this { return this.simd(0xae); }
  i32x4Mul(): this { return this.simd(0xb5); }
  f32x4ExtractLane(lane: number): this { return this.simd(0x1f, lane); }
  f32x4Neg(): this { return this.simd(0xe1); }
  v128Store32Lane(offset: number, lane: number): this { return this.simd(0x5a, 2, ...uleb(offset), lane); }
  v128Load64Zero(offset = 0): this { return this.simd(0x5d, 3, ...uleb(offset)); }
  v128Store64Lane(offset: number, lane: number): this { return this.simd(0x5b, 3, ...uleb(offset), lane); }
  /** i8x16.shuffle picking f32 lanes (0–3 from the first operand, 4–7 from the second). */
  f32Shuffle(lanes: readonly [number, number, number, number]): this {
    return this.simd(0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }
  param32(params: Local, slot: number, into: Local): this {
    return this.get(params).i32Load(4 * slot).set(into);
  }
  /** for (counter = from; counter < end; counter += step) body — `from`/`end` pushed by callbacks. */
  loop(counter: Local, from: () => void, end: Local, step: number, body: () => void): this {
    from();
    this.set(counter);
    return this.ifElse(
      () => this.get(counter).get(end).ltS(),
      () =>
        this.doWhile(
          () => {
            body();
            this.addTo(counter, () => this.i32(step));
          },
          () => this.get(counter).get(end).ltS(),
        ),
    );
  }
}


/**
 * best, idx = the first maximum of the four candidate vectors, lane by lane, in order (the JS pool's
 * rule: a later value wins only if greater, or if it is NaN and the best so far is not); idx as i32.
 */
export function emitFirstMax(f: Builder, candidates: readonly Local[], best: Local, idx: Local, mask: Local): void {
  f.get(candidates[0]!).set(best);
  f.v128Zero().set(idx);
  candidates.slice(1).forEach((c, i) => {
    f.get(c).get(best).f32x4Gt();
    f.get(c).get(c).f32x4Ne().get(best).get(best).f32x4Eq().v128And();
    f.v128Or().set(mask);
    f.get(c).get(best).get(mask).v128Bitselect().set(best);
    f.i32(i + 1).i32x4Splat().get(idx).get(mask).v128Bitselect().set(idx);
  });
}

/** v = v where v > 0 or v is NaN, else 0 (the JS relu). */
export function emitRelu(f: Builder, v: Local): void {
  f.get(v).get(v).v128Zero().f32x4Gt().get(v).get(v).f32x4Ne().v128Or().v128And().set(v);
}
