import type { LabelledImages } from '../src/data/types.js';
import { Rng } from '../src/tensor/random.js';

/**
 * 28×28 images whose class c is a bright bar at row (or, `vertical`, column) 3 + 2·c over uniform
 * noise in [0, 0.2): easy for a small CNN, and two orientations look like two different datasets.
 */
export function barImages(name: string, count: number, seed: number, vertical = false): LabelledImages {
  const rng = new Rng(seed);
  const images = new Float32Array(count * 784);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = rng.int(10);
    labels[i] = label;
    for (let p = 0; p < 784; p++) images[i * 784 + p] = 0.2 * rng.uniform();
    const line = 3 + 2 * label;
    for (let t = 2; t < 26; t++) images[i * 784 + (vertical ? t * 28 + line : line * 28 + t)] = 1;
  }
  return { name, images, shape: [count, 28, 28], labels, numClasses: 10 };
}
