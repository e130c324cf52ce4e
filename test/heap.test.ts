import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/kernels/cpu/backend.js';
import { Blocks, configureHeap, freeHeapArray, HEAP_ALIGN, heapFloat32, isHeapArray, STAGING_BYTES } from '../src/kernels/cpu/heap.js';
import { configureBufferPool } from '../src/kernels/cpu/host.js';
import { softmax, tensor, tidy } from '../src/index.js';

// A shared heap that starts at 16 MiB and may grow to 64 MiB (set before any kernel runs).
configureHeap({ shared: true, maxBytes: 64 * 2 ** 20 });
const cpu = new CpuBackend();

describe('heap block allocator', () => {
  const noGrowth = (): boolean => false;

  it('reuses a freed block of the same size and gives the top back to the bump pointer', () => {
    const b = new Blocks(STAGING_BYTES + 10 * HEAP_ALIGN);
    const x = b.take(2 * HEAP_ALIGN, noGrowth);
    const y = b.take(HEAP_ALIGN, noGrowth);
    expect([x, y]).toEqual([STAGING_BYTES, STAGING_BYTES + 2 * HEAP_ALIGN]);
    b.release(x);
    expect(b.take(2 * HEAP_ALIGN, noGrowth)).toBe(x);
    b.release(y); // the top block: the bump pointer moves back
    expect(b.take(3 * HEAP_ALIGN, noGrowth)).toBe(y);
    expect(b.liveBytes).toBe(5 * HEAP_ALIGN);
  });

  it('merges neighbouring free blocks and splits the best fit when the bump pointer is at the end', () => {
    const b = new Blocks(STAGING_BYTES + 8 * HEAP_ALIGN);
    const blocks = Array.from({ length: 8 }, () => b.take(HEAP_ALIGN, noGrowth));
    expect(b.take(HEAP_ALIGN, noGrowth)).toBe(-1);
    b.release(blocks[2]!);
    b.release(blocks[3]!);
    b.release(blocks[4]!);
    b.release(blocks[6]!);
    // 3 blocks in a row are free (2–4): a 2-block request fits there after merging, leaving one.
    expect(b.take(2 * HEAP_ALIGN, noGrowth)).toBe(blocks[2]);
    expect(new Set([b.take(HEAP_ALIGN, noGrowth), b.take(HEAP_ALIGN, noGrowth)])).toEqual(new Set([blocks[4], blocks[6]]));
    expect(b.take(HEAP_ALIGN, noGrowth)).toBe(-1);
    expect(() => b.release(12345)).toThrow('heap: free of 12345, which is not an allocated block');
  });

  it('asks to grow only when nothing free fits', () => {
    const b = new Blocks(STAGING_BYTES + 2 * HEAP_ALIGN);
    const asked: number[] = [];
    const grow = (needed: number): boolean => {
      asked.push(needed);
      b.limit = needed;
      return true;
    };
    b.take(2 * HEAP_ALIGN, grow);
    expect(asked).toEqual([]);
    expect(b.take(4 * HEAP_ALIGN, grow)).toBe(STAGING_BYTES + 2 * HEAP_ALIGN);
    expect(asked).toEqual([STAGING_BYTES + 6 * HEAP_ALIGN]);
  });
});

describe('shared heap', () => {
  it('is shared and grows, and views made before a growth keep their length and data', () => {
    const first = heapFloat32(1000)!;
    first.forEach((_, i) => (first[i] = i));
    const before = configureHeap();
    expect(before.mode).toBe('shared');
    const big = Array.from({ length: 6 }, () => heapFloat32(2 ** 20)!); // 24 MiB: more than the initial 16
    expect(big.every((a) => a !== null && isHeapArray(a))).toBe(true);
    expect(configureHeap().bytes).toBeGreaterThan(before.bytes);
    expect(first.length).toBe(1000);
    expect(first[999]).toBe(999);
    big.forEach(freeHeapArray);
  });

  it('falls back to ordinary arrays past maxBytes, and kernels still give the right answers', () => {
    const hog = Array.from({ length: 20 }, () => heapFloat32(2 ** 20)).filter((a): a is Float32Array => a !== null);
    expect(hog.length).toBeLessThan(20);
    const misses = configureHeap().misses;
    const x = tensor(Array.from({ length: 4 * 2 ** 20 }, (_, i) => (i % 13) - 6));
    const y = x.exp().neg();
    expect(configureHeap().misses).toBeGreaterThan(misses);
    expect(isHeapArray(y.storage.readSync())).toBe(false);
    expect(y.storage.readSync()[7]).toBeCloseTo(-Math.exp(1), 5);
    hog.forEach(freeHeapArray);
    x.dispose();
    y.dispose();
  });

  it('frees a block once, however often its array is released', () => {
    const a = heapFloat32(100)!;
    const live = configureHeap().liveBytes;
    freeHeapArray(a);
    const b = heapFloat32(100)!; // may reuse a's block
    freeHeapArray(a); // must not free b's block
    expect(configureHeap().liveBytes).toBe(live);
    freeHeapArray(b);
    expect(configureHeap().liveBytes).toBe(live - 448);
    freeHeapArray(new Float32Array(100)); // not a heap array: ignored
  });

  it('gives back the blocks of arrays dropped without dispose once they are garbage-collected', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Collects until the live bytes stop changing (finalizers run after the stack empties).
    const settle = async (): Promise<number> => {
      let last = -1;
      for (let i = 0; i < 20 && configureHeap().liveBytes !== last; i++) {
        last = configureHeap().liveBytes;
        gc();
        await new Promise((r) => setTimeout(r, 5));
      }
      return configureHeap().liveBytes;
    };
    const live = await settle();
    const held = configureBufferPool().heldBytes;
    (() => {
      // Read: a deferred result holds no array yet. Its input goes back to the buffer pool once
      // computed (the pool keeps one array of this length for the next fill).
      for (let i = 0; i < 50; i++) cpu.unary('exp', cpu.fill(10_000, i, 'float32')).readSync();
    })();
    expect(configureHeap().liveBytes).toBeGreaterThan(live + 50 * 40_000);
    expect((await settle()) - (configureBufferPool().heldBytes - held)).toBe(live);
  });

  it('pooled kernel outputs live in the heap; a pool limit of 0 gives their blocks back at once', () => {
    const x = tensor(Array.from({ length: 300 }, (_, i) => i / 100));
    const y = tidy(() => softmax(x.exp(), -1));
    expect(isHeapArray(y.storage.readSync())).toBe(true);
    const previous = configureBufferPool().limitBytes;
    try {
      configureBufferPool({ limitBytes: 0 });
      const live = configureHeap().liveBytes;
      tidy(() => {
        x.exp().neg();
      });
      expect(configureHeap().liveBytes).toBe(live);
    } finally {
      configureBufferPool({ limitBytes: previous });
    }
  });

  it('rejects changes once in use, and bad options', () => {
    expect(() => configureHeap({ maxBytes: 2 ** 30 })).toThrow('configureHeap: the heap is already in use');
    expect(() => configureHeap({ maxbytes: 1 } as never)).toThrow('configureHeap: unknown option maxbytes');
  });
});
