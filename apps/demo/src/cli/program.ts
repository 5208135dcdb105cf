/**
 * The `forgetless` command line (commander): `run` (the default), `importances`, `prune`,
 * `correlate`, `methods`, `presets`. Parsing errors become one-line usage errors (exit 2).
 */
import { Command, CommanderError, Option } from 'commander';
import { BACKENDS, SEQUENCES } from '../experiment/config.js';
import { DEFAULT_LAMBDAS, METHODS } from '../experiment/methods.js';
import { PRESETS, PRESET_NAMES } from '../experiment/presets.js';
import { usage } from './errors.js';
import { type RunCommandFlags, runCommand } from './run-command.js';
import { registerToolCommands } from './tools.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function buildProgram(argv: readonly string[]): Command {
  const command = ['forgetless', ...argv].join(' ');
  const program = new Command('forgetless')
    .description('Continual learning (EWC, WVA, importances) and pruning on TensorFlow.js: experiments, paper presets, tools.')
    .configureOutput({ outputError: () => undefined })
    .exitOverride();

  program
    .command('run', { isDefault: true })
    .description('a continual-learning experiment: the default run, a paper preset, or your own (the default command)')
    .addOption(new Option('--preset <name>', `a paper's experiment: ${PRESET_NAMES.join(', ')}`))
    .option('--quick', 'scale a preset down (fewer tasks, steps, seeds) to minutes')
    .option('--dataset <name|dir>', 'embedded (the shipped subset), fashion-mnist, mnist, or an MNIST-format folder (several, comma-separated, for --sequence queue); presets default to MNIST where found, else Fashion-MNIST')
    .option('--download', 'fetch MNIST / Fashion-MNIST from their published sources when missing (SHA-256 checked, cached)')
    .addOption(new Option('--sequence <name>', 'task sequence').choices([...SEQUENCES]))
    .option('--tasks <n>', 'number of tasks')
    .option('--model <spec>', "model spec: 784-300-150-10:leakyrelu, 784-100-10, paper2-conv, paper2-conv:0.25")
    .option('--methods <list>', 'comma-separated methods, e.g. plain,ewc-fis,sewc-mas,wva-sig:exp:steps@adam (see `forgetless methods`)')
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'adam']))
    .option('--lr <x>', 'learning rate')
    .option('--epochs <n>', 'epochs per task')
    .option('--iterations <n>', 'optimizer steps per task (instead of epochs)')
    .option('--batch-size <n>', 'minibatch size')
    .option('--lambda <spec>', 'λ for every method (41), a grid (1,10,100), or per method (ewc-fis=10,41,85); repeatable', collect)
    .option('--seeds <list>', 'seeds, e.g. 0,1,2')
    .option('--repeats <n>', 'seeds 0..n-1')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices([...BACKENDS]))
    .option('--importance-samples <n>', 'closing-set examples per task for importances')
    .option('--eval-limit <n>', 'evaluate on at most n test examples per task')
    .option('--evaluate-every <n>', 'also evaluate every n steps on the tasks seen so far (accuracy curves in results.json)')
    .option('--train-limit <n>', 'train on at most n examples per task')
    .option('--out <dir>', 'output folder (default runs/<timestamp>)')
    .option('--resume <dir>', 'continue an interrupted run from its output folder')
    .option('--no-progress', 'no progress bars (task lines only)')
    .option('--quiet', 'no progress output at all')
    .action(async (flags: RunCommandFlags) => {
      await runCommand(flags, command);
    });

  program
    .command('methods')
    .description('list the methods and their default λ')
    .action(() => {
      for (const m of Object.values(METHODS)) {
        const lam = DEFAULT_LAMBDAS[m.name];
        process.stdout.write(`${m.name.padEnd(16)}${(lam !== undefined ? `λ ${lam}` : '').padEnd(12)}${m.description}\n`);
      }
      process.stdout.write('\nModifiers: wva-*:hyperbolic|exp, :grads|steps; ewc-*:half (c = λ/2·I); any method @sgd|@adam.\n');
    });

  program
    .command('presets')
    .description('list the paper presets')
    .action(() => {
      for (const p of Object.values(PRESETS)) process.stdout.write(`${p.name.padEnd(13)}${p.title}\n${' '.repeat(13)}${p.protocol}\n`);
    });

  registerToolCommands(program);
  return program;
}

/** Parses and runs; commander's own errors become usage errors. */
export async function runCli(argv: readonly string[]): Promise<void> {
  const program = buildProgram(argv);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return;
      throw usage(e.message.replace(/^error: /, ''));
    }
    throw e;
  }
}
