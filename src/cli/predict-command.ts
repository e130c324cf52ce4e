import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readNumericCsv } from '../node/data/csv.js';
import { inputMatrix, loadTrainedRun, predictionsCsv, predictRows } from '../experiments/predict.js';
import { UserError } from '../experiments/user-error.js';
import { integerArg } from './options.js';

/** `dselect-k predict --model runs/a --data new.csv > predictions.csv` */
export function addPredictCommand(program: Command, write: (text: string) => void): Command {
  return program
    .command('predict')
    .description("predict every row of a CSV file with a trained run's model; prints CSV (one column per task) to stdout or --out")
    .requiredOption('--model <run>', 'folder (or .dsk file) of a dselect-k train run')
    .requiredOption('--data <file.csv>', "CSV with a header row: the run's feature columns by name (CSV-trained runs; other columns are ignored), else exactly its input features in order")
    .option('--out <file.csv>', 'write the predictions here instead of stdout')
    .option('--batch-size <n>', 'rows per forward pass', integerArg(1, 1_000_000), 1024)
    .action((opts: { model: string; data: string; out?: string; batchSize: number }) => {
      const run = loadTrainedRun(resolve(opts.model));
      let table;
      try {
        table = readNumericCsv(resolve(opts.data));
      } catch (e) {
        throw new UserError(`--data: ${(e as Error).message}`);
      }
      const x = inputMatrix(run, table, opts.data);
      const { columns, values } = predictRows(run, x, table.rows, opts.batchSize);
      const text = predictionsCsv(columns, values);
      if (opts.out) writeFileSync(resolve(opts.out), text);
      else write(text);
    });
}
