import { describe, expect, it } from 'vitest';
import { parseLogFormats, runLogName } from './logging.js';

describe('--log', () => {
  it('parses formats and names each run’s folder', () => {
    expect(parseLogFormats('tensorboard, csv,jsonl,csv')).toEqual(['tensorboard', 'csv', 'jsonl']);
    expect(() => parseLogFormats('csv,parquet')).toThrow("--log: unknown format 'parquet' (expected tensorboard, csv, jsonl)");
    expect(() => parseLogFormats(' , ')).toThrow(/--log: expected formats/);
    expect(runLogName({ label: 'wva-sig:exp:steps@adam', lambda: 0.5, seed: 2 })).toBe('wva-sig-exp-steps@adam_lambda0.5_seed2');
  });
});
