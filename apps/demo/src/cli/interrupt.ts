/**
 * Ctrl-C (SIGINT) and a service manager's stop (SIGTERM) during a long command: the first asks the
 * work to stop after the current step (its AbortSignal) so that what is done gets written; a second
 * quits at once (exit 130).
 */
export interface Interrupts {
  signal: AbortSignal;
  /** Installs the handlers (call right before the long work). */
  listen(): void;
  /** Removes them. */
  dispose(): void;
}

export function interrupts(log: (line: string) => void): Interrupts {
  const controller = new AbortController();
  let count = 0;
  const handler = () => {
    count++;
    if (count > 1) process.exit(130);
    log('\ninterrupted: finishing the current step and writing what is done (Ctrl-C again to quit now)');
    controller.abort();
  };
  return {
    signal: controller.signal,
    listen() {
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
