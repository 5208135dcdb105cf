/**
 * An append-only file written in the background: chunks are buffered and appended every `flushMs`
 * (and when 64 KiB are waiting), in order, through one open file handle. A failed write is reported
 * by the next `flush` or `close`.
 */
import { mkdirSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AppenderOptions {
  /** Milliseconds between background writes (default 1000). */
  flushMs?: number;
}

const HIGH_WATER = 64 * 1024;

export class Appender {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private chain: Promise<void> = Promise.resolve();
  private handle: FileHandle | undefined;
  private error: unknown;
  private closed = false;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    readonly file: string,
    options: AppenderOptions = {},
  ) {
    const flushMs = options.flushMs ?? 1000;
    if (!(flushMs > 0)) throw new Error(`${file}: flushMs must be positive, got ${flushMs}`);
    mkdirSync(dirname(file), { recursive: true });
    this.timer = setInterval(() => this.flush().catch(() => undefined), flushMs);
    this.timer.unref?.();
  }

  push(chunk: Uint8Array | string): void {
    if (this.closed) throw new Error(`${this.file}: the log is closed`);
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
    this.chunks.push(bytes);
    this.size += bytes.length;
    if (this.size >= HIGH_WATER) this.flush().catch(() => undefined);
  }

  flush(): Promise<void> {
    if (this.chunks.length) {
      const data = Buffer.concat(this.chunks);
      this.chunks = [];
      this.size = 0;
      this.chain = this.chain.then(async () => {
        if (this.error !== undefined) return;
        try {
          this.handle ??= await open(this.file, 'a');
          await this.handle.write(data);
        } catch (e) {
          this.error = e;
        }
      });
    }
    return this.chain.then(() => {
      if (this.error !== undefined) throw this.error;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.handle?.close();
      this.handle = undefined;
    }
  }
}
