/**
 * dselect-k/node: what needs Node's file system or threads — weights and checkpoint files, the
 * dataset loaders (IDX, MNIST, Fashion-MNIST) and worker threads for the cpu kernels.
 */
export { CHECKPOINT_FILE, CheckpointError, checkpointPath, loadCheckpoint, readCheckpoint, saveCheckpoint, type Checkpoint, type CheckpointSource } from './checkpoint.js';
export { loadModel, saveModel, type LoadedModel, type ModelMeta, type SaveModelOptions } from './model-file.js';
export { loadSafetensors, readSafetensors, saveSafetensors } from './safetensors-file.js';
export { loadWeights, readWeights, saveWeights, weightsPaths, type WeightsPaths } from './weights-file.js';
export { WeightsFormatError } from '../nn/weights-format.js';
export { writeFileAtomic, writeTextAtomic, type AtomicWriteFaults } from './atomic-write.js';
export { useWorkerThreads, type WorkerThreadOptions } from './worker-threads.js';
export { CsvFormatError, readNumericCsv, type NumericTable } from './data/csv.js';
export { decodeIdx, encodeIdx, IdxFormatError, readIdx, type IdxArray, type IdxReadOptions } from './data/idx.js';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_DEBIAN_DIR, FASHION_MNIST_DEBIAN_PACKAGE, loadFashionMnist, type FashionMnistOptions, type FashionMnistSplit } from './data/fashion-mnist.js';
export { loadMnistDigits, type MnistDigitsOptions } from './data/mnist.js';
export { loadFashionMnistMixture, loadMultiFashion, loadMultiMnist } from './data/image-sets.js';
export { appendLedger, LedgerError, readLedger, type LedgerContents } from './ledger.js';
