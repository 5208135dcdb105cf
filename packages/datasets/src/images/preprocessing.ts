/**
 * A pretrained model's input preprocessing, as one affine map per channel: a model input is
 * x·scale[c] + offset[c], x the 0–255 pixel value, c the channel in the model's order (channels last),
 * plus the channel order the model expects (RGB, or BGR for Caffe-trained models).
 */

export type ChannelOrder = 'rgb' | 'bgr';

/**
 * - `'unit'`: x/255, in [0, 1].
 * - `'symmetric'`: x/127.5 − 1, in [−1, 1] (Keras MobileNet, MobileNetV2, Inception, Xception: `mode='tf'`).
 * - `'imagenet'`: (x/255 − [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225], RGB (torchvision, Keras `mode='torch'`).
 * - `'caffe'`: BGR order, x − [103.939, 116.779, 123.68] (B, G, R means; Keras ResNet50, VGG: `mode='caffe'`).
 * - `{ scale, offset? }`: x·scale + offset, a number for every channel or one per channel.
 * - `{ mean, std }`: (x − mean)/std per channel, mean and std in 0–255 pixel units.
 *
 * The object forms take an optional `channelOrder` (default `'rgb'`); their per-channel arrays are in
 * that order.
 */
export type ImagePreprocessing =
  | 'unit'
  | 'symmetric'
  | 'imagenet'
  | 'caffe'
  | { scale: number | number[]; offset?: number | number[]; channelOrder?: ChannelOrder }
  | { mean: number[]; std: number[]; channelOrder?: ChannelOrder };

/** The affine map of a preprocessing, one entry per channel in the model's channel order. */
export interface ResolvedPreprocessing {
  scale: number[];
  offset: number[];
  channelOrder: ChannelOrder;
}

export const PREPROCESSING_NAMES = ['unit', 'symmetric', 'imagenet', 'caffe'] as const;

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];

/**
 * The per-channel scale and offset of a preprocessing for images of `channels` channels. Presets with
 * three per-channel constants (`'imagenet'`, `'caffe'`) need 3 channels; numbers apply to every channel.
 */
export function resolvePreprocessing(p: ImagePreprocessing, channels: number): ResolvedPreprocessing {
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`preprocessing: channels must be a positive integer, got ${channels}`);
  const fill = (v: number) => Array.from({ length: channels }, () => v);
  const three = (name: string) => {
    if (channels !== 3) throw new Error(`preprocessing '${name}' has constants for 3 channels (RGB), but the images have ${channels}`);
  };
  if (typeof p === 'string') {
    switch (p) {
      case 'unit':
        return { scale: fill(1 / 255), offset: fill(0), channelOrder: 'rgb' };
      case 'symmetric':
        return { scale: fill(1 / 127.5), offset: fill(-1), channelOrder: 'rgb' };
      case 'imagenet':
        three(p);
        return { scale: IMAGENET_STD.map((s) => 1 / (255 * s)), offset: IMAGENET_MEAN.map((m, c) => -m / (IMAGENET_STD[c] as number)), channelOrder: 'rgb' };
      case 'caffe':
        three(p);
        return { scale: fill(1), offset: CAFFE_MEAN_BGR.map((m) => -m), channelOrder: 'bgr' };
      default:
        throw new Error(`preprocessing: unknown preset '${p as string}' (expected ${PREPROCESSING_NAMES.join(', ')}, { scale, offset } or { mean, std })`);
    }
  }
  const channelOrder = p.channelOrder ?? 'rgb';
  if (channelOrder !== 'rgb' && channelOrder !== 'bgr') throw new Error(`preprocessing: channelOrder must be 'rgb' or 'bgr', got '${channelOrder as string}'`);
  const perChannel = (name: string, v: number | readonly number[]): number[] => {
    const out = typeof v === 'number' ? fill(v) : [...v];
    if (out.length !== channels) throw new Error(`preprocessing: ${name} has ${out.length} entries but the images have ${channels} channel${channels === 1 ? '' : 's'}`);
    for (const x of out) if (!Number.isFinite(x)) throw new Error(`preprocessing: ${name} [${out}] has a non-finite entry`);
    return out;
  };
  if ('mean' in p) {
    const mean = perChannel('mean', p.mean);
    const std = perChannel('std', p.std);
    for (const s of std) if (s === 0) throw new Error(`preprocessing: std [${std}] has a zero entry`);
    return { scale: std.map((s) => 1 / s), offset: mean.map((m, c) => -m / (std[c] as number)), channelOrder };
  }
  if (!('scale' in p)) throw new Error('preprocessing: an object needs { scale, offset? } or { mean, std }');
  return { scale: perChannel('scale', p.scale), offset: perChannel('offset', p.offset ?? 0), channelOrder };
}

/**
 * Reads a preprocessing from a command-line string: a preset (`unit`, `symmetric`, `imagenet`, `caffe`)
 * or `key=values` parts separated by `;` or `,`, a value list continuing until the next `key=`:
 * `scale=0.0078,offset=-1`, `mean=123.7,116.3,103.5;std=58.4,57.1,57.4`, and `order=bgr` (or a bare
 * `bgr` / `rgb`). Errors name the part that is wrong.
 */
export function parsePreprocessing(text: string): ImagePreprocessing {
  const t = text.trim();
  if ((PREPROCESSING_NAMES as readonly string[]).includes(t.toLowerCase())) return t.toLowerCase() as (typeof PREPROCESSING_NAMES)[number];
  if (t === '') throw new Error(`preprocessing: empty (expected ${PREPROCESSING_NAMES.join(', ')}, scale=...,offset=... or mean=...;std=...)`);
  const values = new Map<string, number[]>();
  let current: number[] | undefined;
  let order: ChannelOrder | undefined;
  for (const raw of t.split(/[;,]/)) {
    const part = raw.trim();
    if (part === '') throw new Error(`preprocessing '${text}': an empty part (two separators in a row?)`);
    const eq = part.indexOf('=');
    if (eq < 0 && (part.toLowerCase() === 'bgr' || part.toLowerCase() === 'rgb')) {
      order = part.toLowerCase() as ChannelOrder;
      current = undefined;
      continue;
    }
    let value = part;
    if (eq >= 0) {
      const key = part.slice(0, eq).trim().toLowerCase();
      value = part.slice(eq + 1).trim();
      if (key === 'order' || key === 'channelorder') {
        const o = value.toLowerCase();
        if (o !== 'rgb' && o !== 'bgr') throw new Error(`preprocessing '${text}': '${part}': order must be rgb or bgr`);
        order = o;
        current = undefined;
        continue;
      }
      if (!['scale', 'offset', 'mean', 'std'].includes(key))
        throw new Error(`preprocessing '${text}': unknown key '${key}' in '${part}' (expected scale, offset, mean, std or order)`);
      if (values.has(key)) throw new Error(`preprocessing '${text}': '${key}' is given twice`);
      current = [];
      values.set(key, current);
    } else if (!current) {
      throw new Error(`preprocessing '${text}': '${part}' is not a preset (${PREPROCESSING_NAMES.join(', ')}) nor a key=value part`);
    }
    const n = Number(value);
    if (value === '' || !Number.isFinite(n)) throw new Error(`preprocessing '${text}': '${part}': '${value}' is not a number`);
    current?.push(n);
  }
  const one = (v: number[]) => (v.length === 1 ? (v[0] as number) : v);
  const order_ = order !== undefined ? { channelOrder: order } : {};
  const scale = values.get('scale');
  const offset = values.get('offset');
  const mean = values.get('mean');
  const std = values.get('std');
  if (mean || std) {
    if (scale || offset) throw new Error(`preprocessing '${text}': give either scale/offset or mean/std, not both`);
    if (!mean || !std) throw new Error(`preprocessing '${text}': ${mean ? 'std' : 'mean'} is missing (mean and std go together)`);
    return { mean, std, ...order_ };
  }
  if (!scale) throw new Error(`preprocessing '${text}': scale is missing (offset alone is not a preprocessing; use scale=1,offset=...)`);
  return offset ? { scale: one(scale), offset: one(offset), ...order_ } : { scale: one(scale), ...order_ };
}
