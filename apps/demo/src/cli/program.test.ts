import { describe, expect, it } from 'vitest';
import { buildProgram, cliVersion } from './program.js';

describe('the command line', () => {
  it('every option that takes a value shows its default (or that it is required) in --help', () => {
    const program = buildProgram([]);
    const missing: string[] = [];
    for (const command of program.commands) {
      for (const option of command.options) {
        if (!option.required && !option.optional) continue; // a switch: off unless given
        const shown = option.defaultValue !== undefined || /\((default: [^)]|required)/.test(option.description);
        if (!shown) missing.push(`${command.name()} ${option.long}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('knows its version', () => {
    expect(cliVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
