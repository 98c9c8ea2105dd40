/**
 * The methods of the regression example (`npm run example:regression`) and of the bench's
 * `regression` race, with the objective they share: a tanh MLP with one output and squared error.
 * @module
 */
import { adam, make, mlpObjective, objectiveLoss } from '../index';
import type { GradientTransformation } from '../index';

/** The MLP f(x) = tanh(x W1 + b1) W2 + b2 (one output) with squared error; its row Gram hook spares egn and ignd the Jacobian rows. */
export const objective = mlpObjective({ activation: 'tanh', loss: 'meanSquaredError' });
/** The objective's loss, `lossFn(params, batch)`. */
export const lossFn = objectiveLoss(objective);

/**
 * The methods: adam as the baseline and the squared-error Gauss-Newton methods, tuned on the sine
 * wave (60–100 steps): adam 0.1 beat 1e-2 and 3e-2; the Gauss-Newton methods share λ = 0.01 with a
 * half step (a full step at λ = 0.01 fits each batch's noise: test RMSE 0.050 against 0.025); IGND
 * without moments crawls (test RMSE after 60 steps 0.46 at lr 1, 0.82 at its default 0.1); with
 * Adam-like moments (β1 0.9, β2 0.99) lr 1 fits (0.056 after 150 steps; lr 0.3: 0.125, 0.1: 0.28),
 * after a spike of the loss in its first steps (Adam-like first steps of size ≈ lr per weight).
 */
export const REGRESSION_METHODS: Readonly<Record<string, { readonly build: () => GradientTransformation<any>; readonly note: string }>> = {
  adam: { build: () => adam(0.1), note: 'adam(0.1)' },
  egn: {
    build: () => make('egn', { objective, lam0: 1e-2, learningRate: 0.5 }),
    note: 'λ = 0.01, lr 0.5, Cholesky on the batch (64 rows)',
  },
  sgn: {
    build: () => make('sgn', { objective, lam0: 1e-2, learningRate: 0.5, maxIterations: 20 }),
    note: 'λ = 0.01, lr 0.5, 20 CG iterations',
  },
  ignd: { build: () => make('ignd', { objective, learningRate: 1, b1: 0.9, b2: 0.99 }), note: 'lr 1, moments β1 0.9, β2 0.99' },
  ggnDirect: {
    build: () => make('ggnDirect', { objective, lam0: 1e-2, learningRate: 0.5 }),
    note: 'λ = 0.01, lr 0.5, dense GGN (P = 97 products per step)',
  },
};
