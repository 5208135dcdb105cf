/**
 * Editing a tfjs optimizer's per-parameter slots (Adam's first and second moments, momentum's
 * accumulation, RMSProp's, ...) when a model's parameters change in the middle of a run: a growing
 * head widens its kernel and bias, a multi-head model stops training a head. tfjs keeps one slot per
 * position in the gradient list of each step (not per variable): `getWeights` returns the step count,
 * then one group per slot kind (Adam: m, then v), and slot i of a group belongs to parameter i.
 */
import * as tf from '@tensorflow/tfjs-core';

interface AdamBetas {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

/**
 * Replaces slots: `edit(i, slot)` returns the new value of parameter i's slot (a tensor the caller
 * no longer needs: it is disposed here), or undefined to keep it. `params` are the model's
 * parameters in gradient order; `stepped` is how many of them the optimizer's last step saw (the
 * length of each slot group; default all). The step count and Adam's running β₁ᵗ, β₂ᵗ are kept
 * exactly. Optimizers without slots (SGD), or before their first step, are left alone. Returns true
 * when a slot changed.
 */
export async function editOptimizerSlots(
  optimizer: tf.Optimizer,
  params: readonly tf.Variable[],
  edit: (index: number, slot: tf.Tensor) => tf.Tensor | undefined,
  stepped = params.length,
): Promise<boolean> {
  const weights = await optimizer.getWeights();
  const [iter, ...slots] = weights;
  if (!iter || slots.length === 0) {
    iter?.tensor.dispose();
    return false;
  }
  if (stepped < 1 || slots.length % stepped !== 0) {
    iter.tensor.dispose();
    throw new Error(`editOptimizerSlots: the optimizer holds ${slots.length} slots, not whole groups of one per parameter of its last step (${stepped})`);
  }
  const created: tf.Tensor[] = [];
  const next = slots.map((s, k) => {
    const i = k % stepped;
    const value = edit(i, s.tensor);
    if (value) created.push(value);
    return { name: s.name, tensor: value ?? s.tensor };
  });
  if (created.length === 0) {
    iter.tensor.dispose();
    return false;
  }
  const adam = optimizer as unknown as AdamBetas;
  const betas = adam.accBeta1 && adam.accBeta2 ? [tf.clone(adam.accBeta1), tf.clone(adam.accBeta2)] : undefined;
  try {
    await optimizer.setWeights([iter, ...next]);
    if (betas) {
      adam.accBeta1?.assign(betas[0] as tf.Tensor);
      adam.accBeta2?.assign(betas[1] as tf.Tensor);
    }
  } finally {
    // setWeights made new variables over the same data: the old slot variables and our tensors go
    tf.dispose([iter.tensor, ...slots.map((s) => s.tensor), ...created, ...(betas ?? [])]);
  }
  return true;
}

/**
 * Widens the slots of parameters whose last axis grew (`widenHead`): the old values kept, zeros for
 * the new units (as if they had been there with zero gradients all along).
 */
export async function widenOptimizerSlots(optimizer: tf.Optimizer, params: readonly tf.Variable[], grown: ReadonlySet<number>, stepped = params.length): Promise<boolean> {
  return editOptimizerSlots(
    optimizer,
    params,
    (i, slot) => {
      if (!grown.has(i)) return undefined;
      const target = params[i] as tf.Variable;
      const axis = slot.rank - 1;
      const extra = (target.shape[axis] as number) - (slot.shape[axis] as number);
      if (extra <= 0) return undefined;
      return tf.tidy(() => {
        const shape = [...slot.shape];
        shape[axis] = extra;
        return tf.concat([slot, tf.zeros(shape, slot.dtype)], axis);
      });
    },
    stepped,
  );
}
