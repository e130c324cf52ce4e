import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeIdx, encodeIdx, IdxFormatError, labelledImagesFromIdx, readIdx } from '../src/node/data/idx.js';

const dir = mkdtempSync(join(tmpdir(), 'dselect-k-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

function sample(): { dims: number[]; data: Uint8Array } {
  const dims = [3, 4, 5];
  const data = Uint8Array.from({ length: 60 }, (_, i) => (i * 37 + 11) % 256);
  return { dims, data };
}

function idxError(fn: () => unknown): IdxFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IdxFormatError);
    return err as IdxFormatError;
  }
  throw new Error('expected an IdxFormatError, nothing was thrown');
}

describe('IDX reader', () => {
  it('reads plain and gzipped files, detecting gzip by its magic bytes, not the file name', () => {
    const { dims, data } = sample();
    const plain = encodeIdx(dims, data);
    // The header is the documented layout: 00 00 08 03, then big-endian dims.
    expect(Array.from(plain.subarray(0, 16))).toEqual([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]);
    for (const file of [write('a-idx3-ubyte', plain), write('b.gz', plain), write('c.gz', gzipSync(plain)), write('d-no-suffix', gzipSync(plain))]) {
      const idx = readIdx(file);
      expect(idx.dims).toEqual(dims);
      expect(Array.from(idx.data)).toEqual(Array.from(data));
    }
  });

  it('reads a one-dimensional label file', () => {
    const idx = decodeIdx(encodeIdx([4], Uint8Array.of(9, 0, 3, 255)));
    expect(idx.dims).toEqual([4]);
    expect(Array.from(idx.data)).toEqual([9, 0, 3, 255]);
  });

  it('names the file and the byte offset where a truncated plain file ran out', () => {
    const { dims, data } = sample();
    const full = encodeIdx(dims, data);
    const file = write('truncated-data', full.subarray(0, 50));
    const err = idxError(() => readIdx(file));
    expect(err.file).toBe(file);
    expect(err.offset).toBe(50);
    expect(err.message).toContain(file);
    expect(err.message).toContain('truncated');
    expect(err.message).toContain('byte offset 50');
    expect(err.message).toContain('need 76 bytes');

    const inHeader = write('truncated-header', full.subarray(0, 9));
    const headerErr = idxError(() => readIdx(inHeader));
    expect(headerErr.offset).toBe(9);
    expect(headerErr.message).toMatch(/byte offset 9 inside the header, which needs 16 bytes/);

    const tiny = write('truncated-magic', full.subarray(0, 2));
    expect(idxError(() => readIdx(tiny)).message).toContain('byte offset 2 inside the 4-byte magic');
  });

  it('names the file and offsets of a truncated gzip stream', () => {
    const { dims } = sample();
    // Incompressible data so that cutting the stream in half cuts the IDX data too.
    const data = Uint8Array.from({ length: 3 * 4 * 5 * 100 }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 13) & 255);
    const gz = gzipSync(encodeIdx([dims[0]! * 100, dims[1]!, dims[2]!], data));
    const cut = Math.floor(gz.length / 2);
    const file = write('truncated.gz', gz.subarray(0, cut));
    const err = idxError(() => readIdx(file));
    expect(err.file).toBe(file);
    expect(err.offset).toBe(cut);
    expect(err.message).toContain(file);
    expect(err.message).toContain(`truncated gzip stream: the file ends at byte offset ${cut}`);
    expect(err.message).toMatch(/decompressed data ran out at byte offset \d+ of the 6016 its header declares/);
  });

  it('reports a corrupt gzip stream by file name', () => {
    const gz = gzipSync(encodeIdx(sample().dims, sample().data));
    const bad = Uint8Array.from(gz);
    bad[bad.length - 6] = bad[bad.length - 6]! ^ 0xff; // inside the CRC32 trailer
    const file = write('corrupt.gz', bad);
    const err = idxError(() => readIdx(file));
    expect(err.message).toContain(file);
    expect(err.message).toContain('corrupt gzip stream');
  });

  it('names the file, offset 0 and the bytes found on a wrong magic', () => {
    const bytes = encodeIdx([2], Uint8Array.of(1, 2));
    bytes[0] = 0x12;
    bytes[1] = 0x34;
    const file = write('wrong-magic', bytes);
    const err = idxError(() => readIdx(file));
    expect(err.offset).toBe(0);
    expect(err.message).toContain(file);
    expect(err.message).toContain('wrong magic at byte offset 0: found 12 34 08 01');

    const pngLike = write('gz-wrong-magic.gz', gzipSync(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 1, 2, 3)));
    expect(idxError(() => readIdx(pngLike)).message).toContain('(decompressed): wrong magic at byte offset 0: found 89 50 4e 47');
  });

  it('rejects unsupported type codes with the code and its meaning', () => {
    const bytes = encodeIdx([1], Uint8Array.of(0));
    bytes[2] = 0x0d;
    const err = idxError(() => decodeIdx(bytes, 'floats.idx'));
    expect(err.message).toContain('floats.idx');
    expect(err.message).toContain('unsupported type code 0x0d (float32) at byte offset 2');
    bytes[2] = 0x42;
    expect(idxError(() => decodeIdx(bytes, 'x')).message).toContain('0x42 (unknown)');
  });

  it('rejects a size that does not match the dims', () => {
    const { dims, data } = sample();
    const full = encodeIdx(dims, data);
    const longer = new Uint8Array(full.length + 7);
    longer.set(full);
    const file = write('too-long', longer);
    const err = idxError(() => readIdx(file));
    expect(err.offset).toBe(76);
    expect(err.message).toContain('dims/size mismatch: dims [3, 4, 5] need 76 bytes but there are 83 (7 extra bytes from byte offset 76)');
  });

  it('names a missing file', () => {
    const file = join(dir, 'nope.gz');
    expect(() => readIdx(file)).toThrow(`idx: ${file}: file not found`);
  });

  it('encodeIdx refuses data that does not fit its dims', () => {
    expect(() => encodeIdx([2, 3], new Uint8Array(5))).toThrow('encodeIdx: dims [2, 3] hold 6 elements, data has 5');
  });
});

describe('labelledImagesFromIdx', () => {
  const check = { name: 'toy', imagesFile: 'imgs', labelsFile: 'labs', height: 2, width: 3, numClasses: 4 };

  it('scales bytes to [0, 1] and keeps the labels', () => {
    const images = { dims: [2, 2, 3], data: Uint8Array.of(0, 51, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9) };
    const set = labelledImagesFromIdx(images, { dims: [2], data: Uint8Array.of(3, 0) }, check);
    expect(set.shape).toEqual([2, 2, 3]);
    expect(set.images[0]).toBe(0);
    expect(set.images[1]).toBe(Math.fround(0.2));
    expect(set.images[2]).toBe(1);
    expect(Array.from(set.labels)).toEqual([3, 0]);
    expect(set.labels).toBeInstanceOf(Int32Array);
  });

  it('rejects images of the wrong size with their shape, and bad labels', () => {
    const wrong = { dims: [2, 3, 3], data: new Uint8Array(18) };
    expect(() => labelledImagesFromIdx(wrong, { dims: [2], data: new Uint8Array(2) }, check)).toThrow(
      'toy: imgs: images have shape [2, 3, 3], expected [N, 2, 3]',
    );
    const images = { dims: [2, 2, 3], data: new Uint8Array(12) };
    expect(() => labelledImagesFromIdx(images, { dims: [3], data: new Uint8Array(3) }, check)).toThrow(
      'toy: labs: labels have shape [3], expected [2]',
    );
    expect(() => labelledImagesFromIdx(images, { dims: [2], data: Uint8Array.of(1, 4) }, check)).toThrow(
      'toy: labs: label 4 at index 1 is not a class in 0..3',
    );
  });
});
