// Test fixtures: LayersModels saved the way tfjs's file handlers lay them out (model.json + a
// weights.bin shard), and an independent reader for stock tf.loadLayersModel, so the round trip
// never goes through the package's own loader on the way back.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Saves with tfjs-layers' own serialisation (`model.save` through a save handler) to `dir`. */
export async function saveWithTfjsLayers(model: tfl.LayersModel, dir: string): Promise<string> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = artifacts as tf.io.ModelArtifacts;
  await mkdir(dir, { recursive: true });
  const data = a.weightData as ArrayBuffer;
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(data));
  const json = {
    modelTopology: a.modelTopology,
    format: a.format,
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  return join(dir, 'model.json');
}

/** A plain IOHandler: model.json, every group's shards concatenated in order. */
export function stockFiles(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
      const buffers: Buffer[] = [];
      for (const g of json.weightsManifest) for (const p of g.paths) buffers.push(await readFile(join(dir, p)));
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights),
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

/** SHA-256 of every file of a folder, by name. */
export async function hashFolder(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort())
    out[f] = createHash('sha256')
      .update(await readFile(join(dir, f)))
      .digest('hex');
  return out;
}
