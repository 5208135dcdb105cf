#!/usr/bin/env node
/**
 * `forgetless`: continual-learning experiments (the default run, paper presets, your own), and
 * tools for pretrained models (importances, prune, correlate). See README.md.
 * Errors print one line `forgetless: <what is wrong>` (exit 2 for bad arguments, 1 otherwise);
 * FORGETLESS_DEBUG=1 prints the stack as well.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describeError } from './cli/errors.js';
import { runCli } from './cli/program.js';

tf.env().set('PROD', true); // no tfjs console banners or debug checks in a command-line tool

try {
  await runCli(process.argv.slice(2));
} catch (e) {
  const { line, exitCode } = describeError(e);
  process.stderr.write(`forgetless: ${line}\n`);
  if (process.env.FORGETLESS_DEBUG === '1' && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exitCode = exitCode;
}
