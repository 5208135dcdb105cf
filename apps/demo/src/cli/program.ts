/**
 * The `forgetless` command line (commander): `run` (the default), `importances`, `prune`,
 * `correlate`, `methods`, `presets`. Parsing errors become one-line usage errors (exit 2); a mistyped
 * command is named with a suggestion. Every option's help shows its default.
 *
 * The output folder of `run` is claimed (created, write-probed, locked, cleared of stale temporary
 * files, refused when it holds an earlier run unless --force) before any data is read or model built;
 * the commands' modules (tfjs kernels, charts) load only then, so refusals come within a second.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { BACKENDS, HEADS, SCENARIOS, SEQUENCES } from '@forgetless/experiments';
import { DEFAULT_LAMBDAS, METHODS, SGD_LAMBDAS } from '@forgetless/experiments';
import { PRESETS, PRESET_NAMES, defaultConfig } from '@forgetless/experiments';
import { usage } from './errors.js';
import { parseLogFormats } from './logging.js';
import type { FinetuneFlags } from './finetune-command.js';
import type { RunFlags } from './options.js';
import { claimOutputFolder, defaultOutDir } from './output-folder.js';
import { threadsOption } from './threads.js';
import { registerToolCommands } from './tool-commands.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The package's version (package.json two folders up, from src/cli or dist/cli). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** `text (default: value)`, for options whose default depends on the preset (so commander must not set it). */
const dflt = (text: string, value: string) => `${text} (default: ${value})`;

interface FinetuneActionFlags extends FinetuneFlags {
  force?: boolean;
}

export interface RunActionFlags extends RunFlags {
  out?: string;
  resume?: string;
  force?: boolean;
  progress?: boolean;
  quiet?: boolean;
  download?: boolean;
  log?: string;
}

async function runAction(flags: RunActionFlags, command: string): Promise<void> {
  const { force, ...rest } = flags;
  const resume = rest.resume !== undefined;
  if (resume && force) throw usage('--resume continues a run with its own settings: drop --force');
  if (rest.log !== undefined) parseLogFormats(rest.log); // a bad --log is refused before the folder is claimed
  const folder = resume
    ? await claimOutputFolder(rest.resume as string, { flag: '--resume', mode: 'resume' })
    : await claimOutputFolder(rest.out ?? defaultOutDir(), { flag: '--out', mode: 'run', force: !!force });
  try {
    const { runCommand } = await import('./run-command.js');
    await runCommand(resume ? rest : { ...rest, out: folder.dir }, command);
  } finally {
    await folder.release();
  }
}

export interface SweepActionFlags extends RunFlags {
  out?: string;
  force?: boolean;
  workers?: string;
  queue?: string;
  status?: boolean;
  collect?: boolean;
  partial?: string;
  detach?: boolean;
  attempts?: string;
  cells?: string;
  progress?: boolean;
  quiet?: boolean;
  download?: boolean;
}

export interface WorkerFlags {
  queue: string;
  cells?: string;
  concurrency?: string;
  download?: boolean;
  lockSeconds?: string;
  maxCells?: string;
  quiet?: boolean;
}

async function sweepAction(flags: SweepActionFlags, command: string): Promise<void> {
  if (flags.workers !== undefined && flags.queue !== undefined) throw usage('--workers and --queue exclude each other: --queue hands the cells to `forgetless worker` processes');
  // --status and --collect read the sweep in --out: no new folder, no lock needed for reading
  const readOnly = !!(flags.status || flags.collect);
  if (readOnly && flags.out === undefined) throw usage(`--${flags.status ? 'status' : 'collect'}: give the sweep's folder with --out`);
  if (flags.partial !== undefined && !(flags.collect && flags.queue === undefined)) throw usage('--partial: only with --collect, of a local sweep (run with --workers)');
  if (flags.collect && flags.queue === undefined && !flags.status) {
    const { localCollect } = await import('./sweep-command.js');
    const sweepDir = resolve(flags.out as string);
    if (flags.partial !== undefined) {
      if (resolve(flags.partial) === sweepDir) throw usage("--partial: give a folder other than the sweep's --out (the sweep may still be writing there)");
      // a report of its own: refused over an earlier run's results unless --force; the sweep's folder is only read
      const folder = await claimOutputFolder(flags.partial, { flag: '--partial', mode: 'run', force: !!flags.force });
      try {
        await localCollect(sweepDir, folder.dir, true);
      } finally {
        await folder.release();
      }
      return;
    }
    // into the sweep's own folder: its lock refuses while the sweep runs there
    const folder = await claimOutputFolder(sweepDir, { flag: '--out', mode: 'tool' });
    try {
      await localCollect(sweepDir, folder.dir, false);
    } finally {
      await folder.release();
    }
    return;
  }
  if (flags.status) {
    // reads only: not locked out by the sweep that is running into the folder
    const { sweepCommand } = await import('./sweep-command.js');
    await sweepCommand(flags, command, resolve(flags.out as string));
    return;
  }
  const folder = await claimOutputFolder(flags.out ?? defaultOutDir(), { flag: '--out', mode: 'tool' });
  try {
    const { sweepCommand } = await import('./sweep-command.js');
    await sweepCommand(flags, command, folder.dir);
  } finally {
    await folder.release();
  }
}

export function buildProgram(argv: readonly string[]): Command {
  const command = ['forgetless', ...argv].join(' ');
  const d = defaultConfig();
  const program = new Command('forgetless')
    .description('Continual learning (EWC, WVA, importances) and pruning on TensorFlow.js: experiments, paper presets, tools.')
    .version(cliVersion(), '-V, --version', 'print the version')
    .configureOutput({ outputError: () => undefined })
    .showSuggestionAfterError(true)
    .exitOverride();

  experimentOptions(program.command('run').description('a continual-learning experiment: the default run, a paper preset, or your own (the default command)'), d)
    .option('--out <dir>', dflt('output folder', 'runs/<timestamp>'))
    .option('--force', 'start a new run in an --out folder that holds an earlier run (its results and checkpoint are removed)')
    .option('--resume <dir>', dflt('continue an interrupted run from its output folder', 'none: a new run'))
    .option('--no-progress', 'no progress bars (task lines only)')
    .option('--quiet', 'no progress output (warnings and errors still print)')
    .option('--log <formats>', dflt('stream every progress event into <out>/logs/<run>/: tensorboard, csv, jsonl (comma-separated)', 'none'))
    .addOption(threadsOption())
    .action(async (flags: RunActionFlags) => {
      await runAction(flags, command);
    });

  experimentOptions(
    program
      .command('sweep')
      .description(
        'the experiment `run` would run, split into cells (one method, λ, seed each) run in parallel: in worker processes here (--workers), or by `forgetless worker` on any machine through Redis (--queue)',
      ),
    d,
  )
    .option('--workers <n>', dflt('worker processes on this machine', `the number of cores, ${availableParallelism()}`))
    .option('--queue <url>', dflt('enqueue the cells on Redis (redis://host:port/db) as a BullMQ flow, for `forgetless worker --queue <url>`', 'none: run here'))
    .option('--status', 'show how far the sweep in --out is (with --queue: from Redis), and exit')
    .option('--collect', 'write the report of the sweep in --out from its finished cells, and exit (every cell must be done; see --partial)')
    .option(
      '--partial <dir>',
      dflt(
        'with --collect: write a report of the cells done so far (each method and λ whose seeds are all done) to <dir>, while the sweep runs or after it stopped',
        'none: every cell must be done',
      ),
    )
    .option('--detach', 'with --queue: enqueue and exit (default: wait for the cells, then write the report)')
    .option('--attempts <n>', dflt('with --queue: tries per cell (retries back off exponentially from 5 s)', '3'))
    .option('--cells <dir>', dflt("the cells' results and checkpoints; a folder every worker sees lets a retried cell resume", '<out>/cells'))
    .option('--out <dir>', dflt('output folder (run the same sweep again into it to continue: finished cells are not run again)', 'runs/<timestamp>'))
    .option('--force', 'use an --out folder that holds another sweep or run')
    .option('--no-progress', 'no status line (cell lines only)')
    .option('--quiet', 'no progress output (warnings and errors still print)')
    .action(async (flags: SweepActionFlags) => {
      await sweepAction(flags, command);
    });

  program
    .command('worker')
    .description('take cells of `forgetless sweep --queue` from Redis and run them, until stopped (Ctrl-C: the current cell is put back)')
    .requiredOption('--queue <url>', 'the Redis of the sweeps: redis://host:port/db (required)')
    .option(
      '--cells <dir>',
      dflt(
        "where cells keep their checkpoints and results: the sweep's cells folder when shared (a retried cell then resumes), else a folder here",
        'a folder under the system temp dir',
      ),
    )
    .option('--concurrency <n>', 'cells run at once by this worker (one process each)', '1')
    .option('--download', 'fetch MNIST / Fashion-MNIST from their published sources when missing')
    .option('--lock-seconds <n>', 'a cell whose worker is silent this long is stalled and given to another worker', '30')
    .option('--max-cells <n>', dflt('exit after this many cells', 'never'))
    .option('--quiet', 'no progress output')
    .action(async (flags: WorkerFlags) => {
      const { workerCommand } = await import('./worker-command.js');
      await workerCommand(flags);
    });

  registerCommands(program, command);
  registerToolCommands(program);
  return program;
}

/** The options of an experiment, shared by `run` and `sweep`. */
function experimentOptions(cmd: Command, d: ReturnType<typeof defaultConfig>): Command {
  return cmd
    .addOption(new Option('--preset <name>', dflt(`a paper's experiment: ${PRESET_NAMES.join(', ')}`, 'none: the default run')))
    .option('--quick', 'scale a preset down (fewer tasks, steps, seeds) to minutes')
    .option(
      '--dataset <name|dir>',
      dflt(
        'embedded (the shipped subset), fashion-mnist, mnist, or an MNIST-format folder (several, comma-separated, for --sequence queue)',
        `${d.data.dataset}; presets: MNIST where found, else Fashion-MNIST`,
      ),
    )
    .option('--download', 'fetch MNIST / Fashion-MNIST from their published sources when missing (SHA-256 checked, cached)')
    .addOption(new Option('--sequence <name>', dflt('task sequence', d.data.sequence)).choices([...SEQUENCES]))
    .addOption(
      new Option('--scenario <name>', dflt('task (task label at test), domain (one shared head) or class (one head over all classes)', 'split: task, permuted: domain')).choices([
        ...SCENARIOS,
      ]),
    )
    .addOption(
      new Option(
        '--head <kind>',
        dflt(
          'output head: shared (one layer over every class; masked to the task in task-IL), multi (task-IL: one head per task), grow (class-IL: grows as classes arrive)',
          'shared; three-scenarios: multi for task, grow for class',
        ),
      ).choices([...HEADS]),
    )
    .option('--tasks <n>', dflt('number of tasks', `${d.data.numTasks}; presets: their own`))
    .option('--model <spec>', dflt('model spec: 784-300-150-10:leakyrelu, 784-100-10, paper2-conv, paper2-conv:0.25', d.model))
    .option(
      '--methods <list>',
      dflt('comma-separated methods, e.g. plain,ewc-fis,sewc-mas,wva-sig:exp:steps@adam (see `forgetless methods`)', d.variants.map((v) => v.method).join(',')),
    )
    .addOption(new Option('--optimizer <name>', dflt('optimizer', d.optimizer)).choices(['sgd', 'adam']))
    .option('--lr <x>', dflt('learning rate', 'sgd 0.1, adam 0.001'))
    .option('--epochs <n>', dflt('epochs per task', String(d.epochs)))
    .option('--iterations <n>', dflt('optimizer steps per task (instead of epochs)', 'none: epochs'))
    .option('--batch-size <n>', dflt('minibatch size', String(d.batchSize)))
    .option(
      '--lambda <spec>',
      dflt(
        'λ for every method (41), a grid (1,10,100), or per method (ewc-fis=10,41,85); repeatable',
        `the default run: ${d.variants
          .filter((v) => v.method !== 'plain')
          .map((v) => `${v.method} ${v.lambdas.join(',')}`)
          .join(', ')}; else each method's (\`forgetless methods\`)`,
      ),
      collect,
    )
    .option('--seeds <list>', dflt('seeds, e.g. 0,1,2', d.seeds.join(',')))
    .option('--repeats <n>', dflt('seeds 0..n-1 (instead of --seeds)', String(d.seeds.length)))
    .addOption(new Option('--backend <name>', dflt('tfjs backend', d.backend)).choices([...BACKENDS]))
    .option(
      '--importance-samples <n>',
      dflt('closing-set examples per task for importances', `the closing set, at most ${d.importanceLimit}: 833 on the embedded subset, 5000 on full Fashion-MNIST`),
    )
    .option('--eval-limit <n>', dflt('evaluate on at most n test examples per task', 'all'))
    .option('--evaluate-every <n>', dflt('also evaluate every n steps on the tasks seen so far (accuracy curves in results.json)', 'never'))
    .addOption(
      new Option('--evaluate-on <which>', dflt('after each task, evaluate the tasks seen so far, or all (also the untrained model: forward transfer, FWT)', 'seen')).choices([
        'seen',
        'all',
      ]),
    )
    .option('--train-limit <n>', dflt('train on at most n examples per task', 'all'));
}

/** finetune, methods, presets. */
function registerCommands(program: Command, command: string): void {
  program
    .command('finetune')
    .description('fine-tune a pretrained model.json on new data without forgetting its old data: methods × λ side by side, plain fine-tuning beside them')
    .option('--model <path>', 'model.json of a TensorFlow.js LayersModel (Keras-converted, quantized or not), or its folder (required, unless --example or --resume)')
    .option('--old <dir>', 'data the model already knows: class folders of images, train/ + test/ folders, or x.npy + y.npy (required, unless --example or --resume)')
    .option('--new <dir>', 'data to learn: the same layouts (required, unless --example or --resume)')
    .option('--example', 'the shipped example, offline: a MobileNetV2-style net pretrained on Fashion-MNIST 0-4, fine-tuned on 5-9 (head extended)')
    .option('--classes <file>', dflt("names of the model's outputs (one per line, or a JSON array), matched to the class folders", "the old data's folders, in order"))
    .option(
      '--methods <list>',
      'comma-separated: plain, ewc-fis, ewc-mas, sewc-fis (= stabilized-ewc-fis), wva-sig, l2, ... (SI needs a training path: not here)',
      'plain,ewc-fis,sewc-fis,wva-fis',
    )
    .option(
      '--lambda <spec>',
      dflt('λ for every method (1000), a grid (100,1000,10000), or per method (ewc-fis=100,1000); repeatable', "each method's paper λ ×1, ×10, ×100"),
      collect,
    )
    .addOption(new Option('--head <mode>', 'keep the head, extend it with outputs for new classes, or replace it').choices(['keep', 'extend', 'replace']).default('keep'))
    .option('--freeze <list>', dflt('layers not to train: names, prefixes (block_1_*) or globs (*_BN), comma-separated', 'none'))
    .addOption(
      new Option(
        '--batch-norm <mode>',
        'batch norm while fine-tuning: frozen (inference mode, as Keras advises), train, or recalibrate (train, then re-estimate statistics on old + new)',
      )
        .choices(['frozen', 'train', 'recalibrate'])
        .default('frozen'),
    )
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'adam']).default('adam'))
    .option('--lr <x>', dflt('learning rate', 'adam 0.001, sgd 0.01'))
    .option('--epochs <n>', 'epochs on the new data', '1')
    .option('--batch-size <n>', 'minibatch size', '32')
    .option('--seed <n>', 'seed of the split, shuffling and new head units', '0')
    .option('--importance-samples <n>', 'old training examples the importances are computed on', '1000')
    .option('--eval-limit <n>', dflt('evaluate on at most n test examples per part', 'all'))
    .option('--test-fraction <x>', 'test share of a folder that is not split into train/ and test/ (seeded, per class)', '0.2')
    .option('--preprocess <spec>', "the model's input preprocessing: unit (x/255), symmetric (x/127.5-1), imagenet, caffe, scale=..,offset=.., or mean=r,g,b;std=r,g,b", 'unit')
    .addOption(new Option('--fit <mode>', 'resize images to the model input: stretch, or center-crop').choices(['stretch', 'center-crop']).default('stretch'))
    .addOption(new Option('--bad-images <mode>', 'corrupt, truncated or unreadable images: skip them (named), or refuse the data').choices(['skip', 'refuse']).default('skip'))
    .option('--per-class <n>', dflt('read at most n images per class folder', 'all'))
    .option('--max-old-drop <x>', 'λ selection: the best new accuracy whose old accuracy fell by at most x', '0.05')
    .addOption(new Option('--save <which>', 'fine-tuned models to write: the selected λ of each method, all, or none').choices(['best', 'all', 'none']).default('best'))
    .addOption(new Option('--backend <name>', 'tfjs backend').choices([...BACKENDS]).default('wasm'))
    .addOption(threadsOption())
    .option('--out <dir>', dflt('output folder', 'runs/<timestamp>'))
    .option('--force', 'replace what an earlier comparison left in --out')
    .option('--resume <dir>', dflt('continue an interrupted comparison from its output folder', 'none: a new comparison'))
    .option('--no-progress', 'no progress bars (lines only)')
    .option('--quiet', 'no progress output')
    .action(async (flags: FinetuneActionFlags, cmd: Command) => {
      const given = Object.fromEntries(Object.entries(flags).filter(([k]) => cmd.getOptionValueSource(k) !== 'default' || ['progress'].includes(k))) as FinetuneActionFlags;
      const { force, ...rest } = given;
      const resume = rest.resume !== undefined;
      if (resume && force) throw usage('--resume continues a comparison with its own settings: drop --force');
      const folder = resume
        ? await claimOutputFolder(rest.resume as string, { flag: '--resume', mode: 'resume' })
        : await claimOutputFolder(rest.out ?? defaultOutDir(), { flag: '--out', mode: 'run', force: !!force, command: 'finetune' });
      try {
        const { finetuneCommand } = await import('./finetune-command.js');
        await finetuneCommand(resume ? rest : { ...rest, out: folder.dir }, command);
      } finally {
        await folder.release();
      }
    });

  program
    .command('methods')
    .description('list the methods and their default λ')
    .action(() => {
      for (const m of Object.values(METHODS)) {
        const lam = DEFAULT_LAMBDAS[m.name];
        const sgd = SGD_LAMBDAS[m.name];
        const text = lam === undefined ? '' : sgd !== undefined ? `λ ${lam} (sgd ${sgd})` : `λ ${lam}`;
        process.stdout.write(`${m.name.padEnd(16)}${text.padEnd(20)}${m.description}\n`);
      }
      process.stdout.write('replay-<n>       experience replay, a memory of n examples (e.g. replay-100, replay-1000)\n');
      process.stdout.write(
        '\nModifiers: wva-*:hyperbolic|exp, :grads|steps; ewc-*:half (c = λ/2·I); replay-<n>:balanced|herding; any method +replay-<n> (e.g. ewc-fis+replay-1000); any method @sgd|@adam.\n',
      );
    });

  program
    .command('presets')
    .description('list the paper presets')
    .action(() => {
      for (const p of Object.values(PRESETS)) process.stdout.write(`${p.name.padEnd(13)}${p.title}\n${' '.repeat(13)}${p.protocol}\n`);
    });
}

const NO_COMMAND = new Set(['-h', '--help', '-V', '--version']);

/** Parses and runs; commander's own errors become usage errors. `forgetless [options]` is `forgetless run [options]`. */
export async function runCli(argv: readonly string[]): Promise<void> {
  const args = [...argv];
  // run is the default command; a word that is not a command is an unknown (mistyped) command
  if (args.length === 0 || (args[0]?.startsWith('-') && !NO_COMMAND.has(args[0]))) args.unshift('run');
  const program = buildProgram(argv);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return;
      throw usage(
        e.message
          .replace(/^error: /, '')
          .replace(/\s*\n\s*\(Did you mean (.+)\?\)\s*$/, ' (did you mean $1?)')
          .replace(/\s*\n\s*/g, ' '),
      );
    }
    throw e;
  }
}
