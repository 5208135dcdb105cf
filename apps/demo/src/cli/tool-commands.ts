/**
 * The options of the tools for pretrained models (`importances`, `prune`, `correlate`); their work is
 * in tools.ts, loaded when one runs.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { BACKENDS } from '@forgetless/experiments';
import { IMPORTANCE_NAMES } from '@forgetless/experiments';
import { threadsOption } from './threads.js';

const IMPORTANCE_CHOICES = [...Object.keys(IMPORTANCE_NAMES), 'fisher', 'taylor'];
const DATA =
  "embedded (the Fashion-MNIST subset shipped with @forgetless/datasets), fashion-mnist, mnist, a folder of MNIST-format files, or a folder of images (<class>/<image>, train/ + test/, or x.npy + y.npy; split 80/20 when not split) read at the model's input size";

/** How `--data` image folders are read, the same for `importances` and `prune`. */
const imageOptions = {
  preprocess: () =>
    new Option(
      '--preprocess <spec>',
      "image --data: the model's input preprocessing: unit (x/255), symmetric (x/127.5-1), imagenet, caffe, scale=..,offset=.., or mean=r,g,b;std=r,g,b",
    ).default('unit'),
  fit: () => new Option('--fit <mode>', 'image --data: resize images to the model input: stretch, or center-crop').choices(['stretch', 'center-crop']).default('stretch'),
  classes: () =>
    new Option(
      '--classes <file>',
      "image --data: names of the model's outputs (one per line, or a JSON array), matched to the class folders (default: metadata.json or labels.txt beside the model, else the folders in order)",
    ),
};

export function registerToolCommands(program: Command): void {
  const backendOption = (fallback = 'wasm') => new Option('--backend <name>', 'tfjs backend').choices([...BACKENDS]).default(fallback);
  program
    .command('importances')
    .description('write the importance map of a pretrained model.json (tfjs weights format)')
    .option('--model <path>', 'model.json of a TensorFlow.js LayersModel (or model.min.js, as some npm packages ship it), or its folder (required)')
    .option('--data <name|dir>', `${DATA}: importances on its training images (required, but for magnitude)`)
    .addOption(new Option('--method <name>', 'importance').choices(IMPORTANCE_CHOICES).default('sig'))
    .addOption(imageOptions.preprocess())
    .addOption(imageOptions.fit())
    .addOption(imageOptions.classes())
    .option('--out <dir>', 'folder to write importances-<method>.json/.bin into (required)')
    .option('--samples <n>', 'training examples the importances are computed on (SI: fine-tuned on)', '5000')
    .option('--si-epochs <n>', 'SI: epochs of fine-tuning whose path SI integrates', '1')
    .option('--lr <x>', 'SI: SGD learning rate of that fine-tuning', '0.01')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags) => (await import('./tools.js')).importancesCommand(flags));
  program
    .command('prune')
    .description('prune a pretrained model.json by importance; writes a model.json stock TensorFlow.js loads')
    .option('--model <path>', 'model.json of a TensorFlow.js LayersModel (or model.min.js, as some npm packages ship it), or its folder (required)')
    .option('--data <name|dir>', `${DATA}: calibration on its training images, accuracy on its test images (required, but for magnitude or a .json importance)`)
    .option('--importance <name|file>', 'sig, magnitude, fis, mas, taylor (first-order Taylor |θ·ḡ|), or an importance map (.json) from `forgetless importances`', 'sig')
    .addOption(imageOptions.preprocess())
    .addOption(imageOptions.fit())
    .addOption(imageOptions.classes())
    .option('--sparsity <x>', 'fraction of weights to zero (0.9 = 90 %)', '0.9')
    .addOption(new Option('--scope <scope>', 'rank over all weights or within each layer').choices(['global', 'layer']).default('global'))
    .option('--no-biases', 'leave biases out of the ranking')
    .option('--samples <n>', 'calibration examples (paper 2: 10000)', '10000')
    .addOption(
      new Option('--structure <kind>', 'zero single weights, or remove whole units and channels (a smaller, faster model)').choices(['weights', 'channels']).default('weights'),
    )
    .option('--target-params <x>', 'channels: fraction of the parameters to remove (default: none; one target is required with --structure channels)')
    .option('--target-flops <x>', 'channels: fraction of the FLOPs to remove (default: none)')
    .option('--target-channels <x>', 'channels: fraction of the removable channels to remove (default: none)')
    .addOption(
      new Option(
        '--reduce <how>',
        "channels: how a group's importances reduce to its score; abs-sum is |Σ I| (default: l1, or abs-sum for taylor, Molchanov 2019's |Σ θ·ḡ|)",
      ).choices(['l1', 'l2', 'mean', 'abs-sum']),
    )
    .option('--min-width <n>', 'channels: fewest channels a layer keeps', '1')
    .option('--groups', 'channels: print the dependency groups (alone: print them and stop)')
    .option('--finetune-steps <n>', 'channels: fine-tune the smaller model for n optimizer steps (Adam, batch 32) on the training images of --data before writing it', '0')
    .option('--finetune-lr <x>', 'channels: learning rate of that fine-tuning (Adam)', '0.001')
    .option('--out <dir>', 'folder for the pruned model (required, but for --groups alone)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (flags) => (await import('./tools.js')).pruneCommand(flags));
  program
    .command('correlate')
    .description('compare two importance maps per layer')
    .argument('<a>', 'importance map (.json) from `forgetless importances`')
    .argument('<b>', 'another one, for the same model')
    .addOption(new Option('--method <name>', 'correlation').choices(['pearson', 'spearman']).default('pearson'))
    .addOption(new Option('--scope <scope>', 'kernels, biases or both').choices(['kernel', 'bias', 'both']).default('both'))
    .option('--out <file>', 'also write the table as JSON to this file (default: none, stdout only)')
    .addOption(backendOption('cpu'))
    .action(async (a: string, b: string, flags) => (await import('./tools.js')).correlateCommand(a, b, flags));
}
