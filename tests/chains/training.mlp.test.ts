import { smallMlp } from '../helpers/problems';
import { describeTraining } from '../helpers/training';

// A 4-6-3 tanh MLP (51 params, non-convex) on 32 samples, one label in six flipped: the loss
// starts at 1.199; the thresholds sit well above what each method reached when they were set
// (given in the comments), so they catch a method that stalls or diverges, not noise.
describeTraining(smallMlp(), [
  { name: 'adahessian', options: { learningRate: 0.1 }, threshold: 0.3 }, // 0.125
  { name: 'sophiaH', options: { learningRate: 0.05, weightDecay: 0 }, threshold: 0.1 }, // 0.0000
  { name: 'sophiaG', options: { learningRate: 0.05, weightDecay: 0 }, threshold: 0.1 }, // 0.0005
  { name: 'newtonCg', options: { lam0: 1, lamPolicy: 'trustRegion', maxiter: 10 }, threshold: 0.1 }, // 0.0000 (uphill steps rejected)
  // The dense direct methods cost P = 51 products per step: 100 steps here (300 steps reached
  // 0.425 and 0.0016, ~70 s each on 2 busy cores).
  { name: 'newtonDirect', options: { lam0: 0.1 }, threshold: 0.6, steps: 100 }, // 0.467
  { name: 'sgn', options: { lam0: 0.1, maxiter: 10 }, threshold: 0.1 }, // 0.0016
  { name: 'egn', options: { lam0: 0.1 }, threshold: 0.1 }, // 0.0016
  { name: 'ggnDirect', options: { lam0: 0.1 }, threshold: 0.05, steps: 100 }, // 0.0075
  { name: 'sqn', options: { learningRate: 1, lineSearch: true }, threshold: 0.2 }, // 0.0597
  { name: 'swmng', options: { lam0: 0.1, learningRate: 0.5 }, threshold: 0.1 }, // 0.0030
  { name: 'sgdArmijo', options: { learningRate: 2 }, threshold: 0.1 }, // 0.0126
  { name: 'lbfgs', options: {}, threshold: 0.2 }, // 0.0597
  { name: 'ignd', options: { learningRate: 0.1 }, threshold: 0.8 }, // 0.682
]);
