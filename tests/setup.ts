// Test setup: the `@tensorflow/tfjs` union package registers tfjs's stock gradients and chained
// ops into the same tfjs-core instance the library uses; tests run on the cpu backend.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';

tf.setBackend('cpu');
// The cpu backend's one-time "install tfjs-node" notice is noise in test output.
const warn = console.warn;
console.warn = () => undefined;
tf.tensor([0]).dispose();
console.warn = warn;
