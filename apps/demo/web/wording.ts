/**
 * `planClasses` names the CLI's flags in its messages; the page's fields have other names. Shared by
 * the page's check (finetune-panel.ts) and the worker's (finetune-job.ts).
 */
export function pageWording(message: string): string {
  return message
    .replace(/, or name the outputs with --classes <labels file>/, ', or pick a labels.txt (one class name per line, in the output order) with the model')
    .replace(/^--classes: /, 'labels file: ')
    .replace(/use --head extend or replace/, 'choose head "extend" or "replace"');
}
