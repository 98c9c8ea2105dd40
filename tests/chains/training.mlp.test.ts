import { smallMlp } from '../helpers/problems';
import { describeTraining } from '../helpers/training';

// A 4-6-3 tanh MLP (51 params, non-convex) on 32 samples, one label in six flipped: the loss
// starts at 1.199; gradient on the 32 samples, curvature on the first 8. The thresholds sit well
// above what each method reached when they were set (in the comments), so they catch a method
// that stalls or diverges, not noise.
describeTraining(smallMlp(), [
  { name: 'adahessian', options: { learningRate: 0.1 }, threshold: 0.3 }, // 0.171
  { name: 'sophiaH', options: { learningRate: 0.05, weightDecay: 0 }, threshold: 0.1 }, // 0.0000
  { name: 'sophiaG', options: { learningRate: 0.05, weightDecay: 0 }, threshold: 0.1 }, // 0.0000
  { name: 'sgn', options: { lam0: 1, maxIterations: 10 }, threshold: 0.1 }, // 0.041
  { name: 'egn', options: { lam0: 1 }, threshold: 0.1 }, // 0.041
  { name: 'sqn', options: { learningRate: 1, linesearch: true }, threshold: 0.8 }, // 0.620 (pairs from 8 samples)
  { name: 'swmng', options: { lam0: 0.1, learningRate: 0.5 }, threshold: 0.1 }, // 0.0045
  { name: 'sgdArmijo', options: { learningRate: 2 }, threshold: 0.1 }, // 0.0126
  { name: 'ignd', options: { learningRate: 0.1 }, threshold: 0.8, curvatureSamples: 32 }, // 0.682
]);
