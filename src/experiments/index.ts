/**
 * dselect-k/experiments: the paper's protocols that the `dselect-k` command runs — training runs with
 * checkpoints and exact resume, the gate comparison with its report, balanced CNN MoE layers and
 * DAMEX — callable from code with the same options.
 */
import { setupCore } from '../core-setup.js';

setupCore();

export { DEFAULTS, DEPRECATED_GATE_NAMES, GATE_KINDS, resolveGateKind, validateModelConfig, type DataConfig, type GateKind, type ModelConfig, type OptimConfig, type TrainConfig } from './config.js';
export { UserError } from './user-error.js';
export { RunInterrupted } from './interrupted.js';
export { datasetNames, getDataset, loadDataset, registerDataset, syntheticDataset, type DatasetEntry, type DatasetOptions } from './datasets.js';
export { multiFashionDataset, multiMnistDataset } from './image-datasets.js';
export { buildExperiment, describeGate, gateSpec, loadExperimentData, selectBackend, testReport, trainExperiment, type Experiment, type TestReport, type TrainHooks } from './experiment.js';
export { CSV_TASK_TYPES, loadCsvData, type CsvDataConfig, type CsvSplitSizes, type CsvTaskType } from './csv-data.js';
export { inputMatrix, loadTrainedRun, predictionsCsv, predictRows, type TrainedRun } from './predict.js';
export { BASELINES, DEPRECATED_VARIANT_IDS, runCompare, VARIANT_IDS, VARIANTS, type CompareHooks, type CompareOptions, type CompareRunDone } from './compare.js';
export { readSavedRun, runTraining, type EpochRecord, EPOCH_LOSS_DEFINITION, type RunDataInfo, type SavedRun, type TrainMeta, type TrainRunHooks, type TrainRunInterrupted, type TrainRunOptions, type TrainRunResult } from './train-run.js';
export { balanceTable, runBalanceExperiment, writeBalanceReport, type BalanceResults, type BalanceRun, type BalanceSettings } from './balance.js';
export { damexTable, runDamexExperiment, writeDamexReport, type DamexResults, type DamexRun, type DamexSettings, type DamexVariant } from './damex.js';
export { IMAGE_DATASETS, loadImageClassification, type ImageClassificationData, type ImageDataOptions, type ImageDatasetName } from './moe-layer-training.js';
export { writeReport } from '../report/write.js';
export { renderText } from '../report/render.js';
export type { CompareResults } from '../report/results.js';
export { rebuildReport, runReproduce, type ReproduceOptions, type ReproduceResult } from './reproduce/session.js';
export { chosenTrial, finalId, LEDGER_FILE, runProtocol, trialId, trialSettings, type Protocol, type RunContext, type RunnerHooks, type RunnerOptions, type RunnerSummary, type RunOutcome, type RunSpec } from './reproduce/runner.js';
export { REGIME_GATES, SYNTHETIC_FULL, SYNTHETIC_QUICK, SYNTHETIC_SEARCH, syntheticProtocol, type SyntheticProtocolOptions } from './reproduce/synthetic.js';
export { IMAGE_CELLS, IMAGE_FULL, IMAGE_QUICK, imageProtocol, type ImageDatasetName as ReproduceImageDataset, type ImageProtocolOptions } from './reproduce/image.js';
export { runResumable, type ResumableRunOptions, type ResumableRunResult } from './reproduce/resumable-run.js';
export { sampleSettings, type SearchDimension } from './reproduce/search.js';
export type { Cell, EpochRecord as ReproduceEpochRecord, LedgerRecord, ResultRecord, SessionRecord, Setting } from '../report/reproduce-records.js';
