/** Test helper: tfjs-layers models as memory artifacts, quantized as tensorflowjs_converter quantizes them. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { quantizeAffine } from './quantize.js';

/** Saves a tfjs-layers model to memory artifacts, optionally quantizing every float weight as tensorflowjs_converter would. */
export async function artifactsOf(model: tfl.LayersModel, quantize?: 'uint8' | 'uint16'): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = artifacts as tf.io.ModelArtifacts;
  if (!quantize) return a;
  const decoded = tf.io.decodeWeights(new Uint8Array(a.weightData as ArrayBuffer).slice().buffer, a.weightSpecs ?? []);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: number[] = [];
  for (const s of a.weightSpecs ?? []) {
    const q = quantizeAffine((decoded[s.name] as tf.Tensor).dataSync() as Float32Array, quantize);
    specs.push({ ...s, quantization: { dtype: quantize, scale: q.scale, min: q.min } });
    parts.push(...q.data);
  }
  tf.dispose(Object.values(decoded));
  return { ...a, weightSpecs: specs, weightData: new Uint8Array(parts).buffer };
}
