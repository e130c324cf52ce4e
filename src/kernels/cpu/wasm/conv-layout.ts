import { I32, type Local } from './assembler.js';
import { Builder, F32 } from './conv-builder.js';

/**
 * The generic image kernels of the cpu backend (any stride, padding and pool window), float32:
 * im2col / col2im (the conv2d op's im2col + matmul path) and max-pool forward / backward. The same
 * loops as the JS kernels of conv.ts, in the same order, so the results are identical; contiguous
 * runs (stride 1) move four floats at a time.
 */

/** dst[0..count) = 0 (count in floats). */
function zeroRange(f: Builder, dst: Local, count: Local, t: Local): void {
  f.i32(0).set(t);
  const vec = (): void => void f.get(t).i32(4).add().get(count).leS();
  f.ifElse(vec, () =>
    f.doWhile(
      () => {
        f.get(dst).get(t).i32(4).mul().add().v128Zero().v128Store();
        f.addTo(t, () => f.i32(4));
      },
      vec,
    ),
  );
  f.loop(t, () => f.get(t), count, 1, () => f.get(dst).get(t).i32(4).mul().add().f32Zero().f32Store());
}

/** The output columns ow whose input column ow·stride − pad + kj lies in [0, w): lo, hi (as conv.ts validRange). */
function validRange(f: Builder, kj: Local, stride: Local, pad: Local, w: Local, outW: Local, lo: Local, hi: Local, t: Local): void {
  f.get(pad).get(kj).sub().set(t);
  f.ifElse(
    () => f.get(t).i32(0).leS(),
    () => f.i32(0).set(lo),
    () => f.get(t).get(stride).add().i32(1).sub().get(stride).divS().set(lo),
  );
  f.ifElse(() => f.get(lo).get(outW).gtS(), () => f.get(outW).set(lo));
  f.get(w).i32(1).sub().get(pad).add().get(kj).sub().set(t);
  f.ifElse(
    () => f.get(t).i32(0).ltS(),
    () => f.i32(0).set(hi),
    () => {
      f.get(t).get(stride).divS().i32(1).add().set(hi);
      f.ifElse(() => f.get(hi).get(outW).gtS(), () => f.get(outW).set(hi));
    },
  );
  f.ifElse(() => f.get(hi).get(lo).ltS(), () => f.get(lo).set(hi));
}

/**
 * im2col_f32 / col2im_f32(x, cols, n, c, h, w, kh, kw, stride, pad, outH, outW): columns
 * [N, C·kH·kW, outH·outW] of images x [N, C, H, W], or (col2im) x += the columns' adjoint (x zeroed
 * by the caller).
 */
export function imageColumns(adjoint: boolean): Builder {
  const f = new Builder(adjoint ? 'col2im_f32' : 'im2col_f32', 12);
  const [x, cols, n, c, h, w, kh, kw, stride, pad, outH, outW] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [img, ch, ki, kj, oh, ih, plane, o, row, lo, hi, t, ow, len] = Array.from({ length: 14 }, () => f.local(I32));
  f.get(cols).set(o);
  f.loop(img, () => f.i32(0), n, 1, () => {
    f.loop(ch, () => f.i32(0), c, 1, () => {
      f.get(x).get(img).get(c).mul().get(ch).add().get(h).mul().get(w).mul().i32(4).mul().add().set(plane);
      f.loop(ki, () => f.i32(0), kh, 1, () => {
        f.loop(kj, () => f.i32(0), kw, 1, () => {
          validRange(f, kj, stride, pad, w, outW, lo, hi, t);
          f.loop(oh, () => f.i32(0), outH, 1, () => {
            f.get(oh).get(stride).mul().get(pad).sub().get(ki).add().set(ih);
            const inside = (): void => void f.get(ih).i32(0).geS().get(ih).get(h).ltS().and();
            // row = address of input element (ih, −pad + kj); column ow reads row + 4·ow·stride
            f.get(plane).get(ih).get(w).mul().get(pad).sub().get(kj).add().i32(4).mul().add().set(row);
            if (!adjoint) {
              f.ifElse(
                inside,
                () => {
                  zeroRange(f, o, lo, t);
                  f.ifElse(
                    () => f.get(stride).i32(1).eq(),
                    () => {
                      f.get(lo).set(ow);
                      const vec = (): void => void f.get(ow).i32(4).add().get(hi).leS();
                      f.ifElse(vec, () =>
                        f.doWhile(
                          () => {
                            f.get(o).get(ow).i32(4).mul().add().get(row).get(ow).i32(4).mul().add().v128Load().v128Store();
                            f.addTo(ow, () => f.i32(4));
                          },
                          vec,
                        ),
                      );
                      f.loop(ow, () => f.get(ow), hi, 1, () => f.get(o).get(ow).i32(4).mul().add().get(row).get(ow).i32(4).mul().add().f32Load().f32Store());
                    },
                    () => f.loop(ow, () => f.get(lo), hi, 1, () => f.get(o).get(ow).i32(4).mul().add().get(row).get(ow).get(stride).mul().i32(4).mul().add().f32Load().f32Store()),
                  );
                  f.get(o).get(hi).i32(4).mul().add().set(t);
                  f.get(outW).get(hi).sub().set(len);
                  zeroRange(f, t, len, ih);
                },
                () => zeroRange(f, o, outW, t),
              );
            } else {
              f.ifElse(inside, () =>
                f.ifElse(
                  () => f.get(stride).i32(1).eq(),
                  () => {
                    f.get(lo).set(ow);
                    const vec = (): void => void f.get(ow).i32(4).add().get(hi).leS();
                    f.ifElse(vec, () =>
                      f.doWhile(
                        () => {
                          f.get(row).get(ow).i32(4).mul().add().set(t);
                          f.get(t).get(t).v128Load().get(o).get(ow).i32(4).mul().add().v128Load().f32x4Add().v128Store();
                          f.addTo(ow, () => f.i32(4));
                        },
                        vec,
                      ),
                    );
                    f.loop(ow, () => f.get(ow), hi, 1, () => {
                      f.get(row).get(ow).i32(4).mul().add().set(t);
                      f.get(t).get(t).f32Load().get(o).get(ow).i32(4).mul().add().f32Load().f32Add().f32Store();
                    });
                  },
                  () =>
                    f.loop(ow, () => f.get(lo), hi, 1, () => {
                      f.get(row).get(ow).get(stride).mul().i32(4).mul().add().set(t);
                      f.get(t).get(t).f32Load().get(o).get(ow).i32(4).mul().add().f32Load().f32Add().f32Store();
                    }),
                ),
              );
            }
            f.addTo(o, () => f.get(outW).i32(4).mul());
          });
        });
      });
    });
  });
  return f;
}

/**
 * maxpool_f32(x, values, argmax, planes, h, w, k, stride, outH, outW): max over k×k windows, the
 * first maximum in scan order (a NaN wins over numbers), and its flat index into x as a float.
 */
export function maxPool(): Builder {
  const f = new Builder('maxpool_f32', 10);
  const [x, values, argmax, planes, h, w, k, stride, outH, outW] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [pl, oh, ow, corner, a, b, idx, bi, o] = Array.from({ length: 9 }, () => f.local(I32));
  const [best, v] = [f.local(F32), f.local(F32)];
  const take = f.local(I32);
  f.i32(0).set(o);
  f.loop(pl, () => f.i32(0), planes, 1, () => {
    f.loop(oh, () => f.i32(0), outH, 1, () => {
      f.loop(ow, () => f.i32(0), outW, 1, () => {
        f.get(pl).get(h).mul().get(oh).get(stride).mul().add().get(w).mul().get(ow).get(stride).mul().add().set(corner);
        f.get(x).get(corner).i32(4).mul().add().f32Load().set(best);
        f.get(corner).set(bi);
        f.loop(a, () => f.i32(0), k, 1, () => {
          f.loop(b, () => f.i32(0), k, 1, () => {
            f.get(corner).get(a).get(w).mul().add().get(b).add().set(idx);
            f.get(x).get(idx).i32(4).mul().add().f32Load().set(v);
            // take v when v > best, or v is NaN and best is not
            f.get(v).get(best).f32Gt();
            f.get(v).get(v).f32Ne().get(best).get(best).f32Ne().i32(1).xor().and();
            f.or().set(take);
            f.get(v).get(best).get(take).select().set(best);
            f.get(idx).get(bi).get(take).select().set(bi);
          });
        });
        f.get(values).get(o).i32(4).mul().add().get(best).f32Store();
        f.get(argmax).get(o).i32(4).mul().add().get(bi).f32ConvertI32S().f32Store();
        f.addTo(o, () => f.i32(1));
      });
    });
  });
  return f;
}

/** maxpool_bwd_f32(g, argmax, out, count): out[argmax[i]] += g[i] (out zeroed by the caller). */
export function maxPoolBackward(): Builder {
  const f = new Builder('maxpool_bwd_f32', 4);
  const [g, argmax, out, count] = [0, 1, 2, 3];
  const [i, at] = [f.local(I32), f.local(I32)];
  f.loop(i, () => f.i32(0), count, 1, () => {
    f.get(out).get(argmax).get(i).i32(4).mul().add().f32Load().i32TruncF32S().i32(4).mul().add().set(at);
    f.get(at).get(at).f32Load().get(g).get(i).i32(4).mul().add().f32Load().f32Add().f32Store();
  });
  return f;
}
