#!/usr/bin/env bash
# Fetches real pretrained TensorFlow.js LayersModels that ship inside npm packages (nobody here made
# them) into a folder, unwrapping the UMD-wrapped ones: nsfwjs's MobileNetV2 and InceptionV3 (uint8
# quantized Keras conversions) and UpscalerJS's ESRGAN-slim x4 (fully convolutional, [null, null, 3]).
# forgetless's loaders read nsfwjs's wrapped folders as they are (pkg/nsfwjs-4.4.0/package/dist/models/<name>/,
# parsed, not run); the copies unwrapped here by running the scripts with Node's require are the
# independent reference they are compared with.
#   bash scripts/fetch-real-models.sh /tmp/real-models
# then, after `npx turbo run build`, for each model.json:
#   node scripts/try-real-models.mjs /tmp/real-models/mobilenet_v2/model.json wasm
set -euo pipefail
out="${1:?usage: fetch-real-models.sh <folder>}"
mkdir -p "$out/pkg"
cd "$out/pkg"
npm pack --silent nsfwjs@4.4.0 @upscalerjs/esrgan-slim@1.0.0 >/dev/null
for f in *.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
node - "$out" <<'JS'
const fs = require('fs'); const path = require('path');
const out = process.argv[2];
const src = path.join(out, 'pkg/nsfwjs-4.4.0/package/dist/models');
for (const name of ['mobilenet_v2', 'inception_v3']) {
  const dir = path.join(src, name); const dst = path.join(out, name);
  fs.mkdirSync(dst, { recursive: true });
  const json = require(path.join(dir, 'model.min.js')); // UMD: module.exports = the model.json
  for (const g of json.weightsManifest) {
    g.paths = g.paths.map((p) => {
      const base = p.replace(/(\.min)?\.js$/, '');
      fs.writeFileSync(path.join(dst, `${base}.bin`), Buffer.from(require(path.join(dir, `${base}.min.js`)), 'base64')); // UMD: a base64 string
      return `${base}.bin`;
    });
  }
  fs.writeFileSync(path.join(dst, 'model.json'), JSON.stringify(json));
}
fs.cpSync(path.join(out, 'pkg/upscalerjs-esrgan-slim-1.0.0/package/models/x4'), path.join(out, 'esrgan_slim_x4'), { recursive: true });
console.log(`written: ${['mobilenet_v2', 'inception_v3', 'esrgan_slim_x4'].map((n) => path.join(out, n, 'model.json')).join(' ')}`);
JS
