/** Lets the event loop run (progress output, cancellation, UI) between training steps. */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => void; MessageChannel?: typeof MessageChannel };
  if (typeof g.setImmediate === 'function') return new Promise((r) => g.setImmediate?.(r));
  if (typeof g.MessageChannel === 'function') {
    return new Promise((r) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        r();
      };
      ch.port2.postMessage(0);
    });
  }
  return new Promise((r) => setTimeout(r, 0));
}
