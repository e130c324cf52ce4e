import { describe, expect, it } from 'vitest';
import { configFromOptions } from '../src/cli/train.js';
import { buildProgram } from '../src/cli/program.js';

// The CNN datasets stayed at chance accuracy with the synthetic defaults (Adam lr 1e-2, 8-unit towers).
describe('dataset-aware training defaults', () => {
  it('multi-fashion and multi-mnist default to lr 1e-3 and 50-unit towers', () => {
    for (const dataset of ['multi-fashion', 'multi-mnist']) {
      const c = configFromOptions({ dataset });
      expect(c.optim.lr).toBe(1e-3);
      expect(c.model.towerHidden).toEqual([50]);
    }
  });

  it('the synthetic data and CSV files keep the general defaults', () => {
    const c = configFromOptions({ dataset: 'synthetic' });
    expect(c.optim.lr).toBe(0.01);
    expect(c.model.towerHidden).toEqual([8]);
  });

  it('a flag the user gives wins over the dataset default', () => {
    const c = configFromOptions({ dataset: 'multi-fashion', lr: 0.02, towerHidden: [] });
    expect(c.optim.lr).toBe(0.02);
    expect(c.model.towerHidden).toEqual([]);
  });

  it('leaves --lr and --tower-hidden unset when not given, and the help names both defaults', () => {
    const program = buildProgram();
    const compare = program.commands.find((c) => c.name() === 'compare')!;
    compare.parseOptions(['--dataset', 'multi-fashion']);
    expect(compare.opts()['lr']).toBeUndefined();
    expect(compare.opts()['towerHidden']).toBeUndefined();
    const help = compare.helpInformation().replace(/\s+/g, ' ');
    expect(help).toMatch(/--lr <rate> Adam learning rate \(default: 0\.01; 0\.001 for multi-mnist and multi-fashion\)/);
    expect(help).toMatch(/--tower-hidden <widths> .*\(default: 8; 50 for multi-mnist and multi-fashion\)/);
  });
});
