import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LabelledImages } from '../../data/types.js';
import { labelledImagesFromIdx, readIdx } from './idx.js';

/** Where Debian's `dataset-fashion-mnist` package installs the gzipped IDX files. */
export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_DEBIAN_PACKAGE = 'dataset-fashion-mnist';

export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export type FashionMnistSplit = 'train' | 'test';

export interface FashionMnistOptions {
  /** Directory holding the IDX files (gzipped or plain); defaults to the Debian package's. */
  dataDir?: string;
  split: FashionMnistSplit;
}

const FILE_STEMS: Record<FashionMnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

function howToGetData(): string {
  return (
    `install Debian's package ${FASHION_MNIST_DEBIAN_PACKAGE} (apt-get install ${FASHION_MNIST_DEBIAN_PACKAGE}, ` +
    `files land in ${FASHION_MNIST_DEBIAN_DIR}) or pass --data-dir <dir> naming a directory with ` +
    `${FILE_STEMS.train.images}.gz, ${FILE_STEMS.train.labels}.gz, ${FILE_STEMS.test.images}.gz and ${FILE_STEMS.test.labels}.gz ` +
    `(gzipped or plain)`
  );
}

/** The image and label file paths of a split; prefers `<stem>.gz`, accepts the plain `<stem>`. */
export function fashionMnistFiles(options: FashionMnistOptions): { images: string; labels: string } {
  const { split } = options;
  if (split !== 'train' && split !== 'test') {
    throw new Error(`loadFashionMnist: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  }
  const dataDir = options.dataDir ?? FASHION_MNIST_DEBIAN_DIR;
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
    throw new Error(`loadFashionMnist: Fashion-MNIST data directory ${dataDir} does not exist; ${howToGetData()}`);
  }
  const find = (stem: string): string => {
    for (const candidate of [join(dataDir, `${stem}.gz`), join(dataDir, stem)]) {
      if (existsSync(candidate)) return candidate;
    }
    throw new Error(`loadFashionMnist: ${join(dataDir, stem)}.gz (or ${stem}) not found in ${dataDir}; ${howToGetData()}`);
  };
  const stems = FILE_STEMS[split];
  return { images: find(stems.images), labels: find(stems.labels) };
}

/** Loads one Fashion-MNIST split: [N, 28, 28] pixels in [0, 1] and labels 0..9. */
export function loadFashionMnist(options: FashionMnistOptions): LabelledImages {
  const files = fashionMnistFiles(options);
  return labelledImagesFromIdx(readIdx(files.images), readIdx(files.labels), {
    name: `fashion-mnist/${options.split}`,
    imagesFile: files.images,
    labelsFile: files.labels,
    height: 28,
    width: 28,
    numClasses: FASHION_MNIST_CLASSES.length,
  });
}
