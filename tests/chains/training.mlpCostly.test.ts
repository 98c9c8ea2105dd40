import { smallMlp } from '../helpers/problems';
import { describeTraining } from '../helpers/training';

// The costlier half of the MLP training checks (see training.mlp.test.ts for the problem and the
// thresholds), in its own file so that jest runs the two halves in parallel.
describeTraining(smallMlp(), [
  // The dense direct methods cost P = 51 products per step: 100 steps.
  { name: 'newtonCg', options: { lam0: 1, lamPolicy: 'trustRegion', maxIterations: 10 }, threshold: 0.1 }, // 0.024 (uphill steps rejected)
  { name: 'newtonDirect', options: { lam0: 1 }, threshold: 0.4, steps: 100 }, // 0.231
  { name: 'ggnDirect', options: { lam0: 1 }, threshold: 0.4, steps: 100 }, // 0.234
  { name: 'lbfgs', options: {}, threshold: 0.2 }, // 0.0597
]);
