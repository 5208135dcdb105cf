// vitest setup shared by every package: tests run on the cpu backend unless a test switches.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

tf.env().set('PROD', true);
await tf.setBackend('cpu');
