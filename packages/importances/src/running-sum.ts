/** A running per-parameter sum over batches that owns its tensors (one live map at a time). */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, addParams, disposeParams } from '@forgetless/core';

export class RunningSum {
  private total: ParamMap | undefined;

  /** Adds `part` and takes ownership of it (it is disposed). */
  add(part: ParamMap): void {
    if (!this.total) {
      this.total = part;
      return;
    }
    const next = addParams(this.total, part);
    disposeParams(this.total);
    disposeParams(part);
    this.total = next;
  }

  get isEmpty(): boolean {
    return this.total === undefined;
  }

  /** The sum divided by `count`; the running sum is released. */
  mean(count: number, what: string): ParamMap {
    const t = this.total;
    if (!t) throw new Error(`${what}: nothing was accumulated`);
    this.total = undefined;
    const out: ParamMap = {};
    for (const [name, v] of Object.entries(t)) out[name] = tf.div(v, count);
    disposeParams(t);
    return out;
  }

  dispose(): void {
    disposeParams(this.total);
    this.total = undefined;
  }
}
