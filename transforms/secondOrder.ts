/**
 * The composable core of the second-order methods (somax v1's assembler): a curvature operator on
 * the curvature batch, a damped linear solve for the direction, an optional post-direction chain,
 * and damping that adapts from the gain ratio of the final update.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../lib/errors';
import { checkOptionKeys } from '../lib/options';
import { foldIn, key as makeKey } from '../lib/random';
import * as tree from '../lib/tree';
import type { Extra, GradientTransformation, LossFn, PRNGKey, Reads, StateTree, Tree } from '../lib/types';
import { fetchValues, runSync, updateReadsOf, withReads } from '../lib/reads';
import type { Curvature, CurvatureOperator } from './curvature';
import type { Objective, SupervisedBatch } from '../lib/objective';
import { stepContext } from '../lib/stepContext';
import type { StepContext } from '../lib/stepContext';
import { constantDamping, predictedDecrease } from './damping';
import type { Damping, DampingState } from './damping';
import { combineDirections, modelCoefficients, modelTerms } from './quadraticModel';
import type { AdaptiveCoefficients } from './quadraticModel';

/** What a direction solver is given at one step. */
export interface SolveProblem {
  /** The current params θ (where the curvature is taken). */
  readonly params: Tree;
  /** The gradient g (right-hand side of (C + λI) s = g). */
  readonly grads: Tree;
  /** The curvature batch. */
  readonly batch: unknown;
  /** Randomness for this step (sampled targets, probes). */
  readonly key: PRNGKey;
  /** The curvature operator on the curvature batch (absent for solvers that build their own). */
  readonly op: CurvatureOperator | null;
  /** The damping λ of this step. */
  readonly lam: number;
  /**
   * Whether `grads` are the loss gradient on the curvature batch, provably: the very tensors of
   * `extra.grad`, with the curvature batch the gradient batch (see `receivesBatchGradient`).
   * Row-space solvers may then use the residual form; for any other g they solve for g itself.
   */
  readonly gradsAreBatchGradient: boolean;
  /** The step's shared forward passes (the model linearized once per batch; see `stepContext`). */
  readonly context?: StepContext;
}

/** What a direction solver returns: the direction s ≈ (C + λI)⁻¹ g, telemetry, its next state. */
export interface SolveResult<S> {
  /** The direction s, shaped like the params (no sign: the post-direction chain negates it). */
  readonly direction: Tree;
  /** Telemetry (e.g. CG iterations, residual), surfaced by `makeStep` in `info`. */
  readonly info: Readonly<Record<string, number | boolean>>;
  /** The solver's next state (e.g. the warm start). */
  readonly state: S;
}

/** A direction solver: `(C + λI) s = g` by some method, with its own state (e.g. a warm start). */
export interface DirectionSolver<S extends StateTree = StateTree> {
  /** Whether the solver uses the parameter-space curvature operator (row-space solvers don't). */
  readonly needsOperator: boolean;
  /** The telemetry keys the solver reports, with their values before the first step. */
  readonly initInfo: Readonly<Record<string, number | boolean>>;
  /** The solver's initial state. */
  init(params: Tree): S;
  /** Solves (C + λI) s = g for one step. */
  solve(problem: SolveProblem, state: S): SolveResult<S>;
  /** The same solve as a {@link Reads} computation (optional: for solvers that read the device). */
  solveReads?(problem: SolveProblem, state: S): Reads<SolveResult<S>>;
}

/**
 * A direction solver without state or telemetry from its solve written as a {@link Reads}
 * computation (the dense, row-space and Woodbury solvers): `solve` runs it synchronously,
 * `solveReads` exposes its reads.
 */
export function statelessSolver(needsOperator: boolean, directionReads: (problem: SolveProblem) => Reads<Tree>): DirectionSolver<null> {
  function* solveReads(problem: SolveProblem): Reads<SolveResult<null>> {
    return { direction: yield* directionReads(problem), info: {}, state: null };
  }
  return { needsOperator, initInfo: {}, init: () => null, solve: (problem) => runSync(solveReads(problem)), solveReads };
}

/**
 * Whether the `updates` a transform receives are, provably, the loss gradient on the curvature
 * batch: leaf for leaf the very tensors (`===`) of `extra.grad` — `makeStep` passes the gradients
 * it computed as both — and `extra.curvatureBatch` absent or the gradient batch `extra.batch`.
 * False after a transform earlier in a chain (its output is other tensors), for a separate
 * curvature batch, or without `extra.grad` (a hand-written loop): a transform that may compute the
 * gradient its own way (e.g. EGN's residual form) may do so only when this holds.
 *
 * @example
 * receivesBatchGradient(grads, { batch, grad: grads })                   // true
 * receivesBatchGradient(tree.scale(grads, 2), { batch, grad: grads })    // false
 */
export function receivesBatchGradient(updates: Tree, extra: Extra = {}): boolean {
  if (extra.grad === undefined || extra.grad === null) return false;
  if (extra.curvatureBatch !== undefined && extra.curvatureBatch !== extra.batch) return false;
  if (extra.grad === updates) return true;
  let given: tf.Tensor[];
  try {
    given = tree.leaves(extra.grad as Tree);
  } catch {
    return false; // not a tree: not the gradient
  }
  const received = tree.leaves(updates);
  return received.length === given.length && received.every((t, i) => t === given[i]);
}

/** State of {@link scaleBySecondOrder}. */
export interface ScaleBySecondOrderState {
  /** Steps taken so far. */
  readonly step: number;
  /** Base key; step t uses `foldIn(key, t)` when `extra.key` is absent. */
  readonly key: PRNGKey;
  /** The direction solver's state. */
  readonly solver: StateTree;
  /** The damping rule's state (λ). */
  readonly damping: DampingState;
  /** The post-direction chain's state (null without `tx`). */
  readonly tx: unknown;
  /** With adaptive momentum: the previous step's direction α s + μ p (zeros before the first step). */
  readonly previous?: Tree;
  /** Telemetry of the last step: λ used and next, solver figures, ρ when damping adapts. */
  readonly info: Readonly<Record<string, number | boolean>>;
}

/** Options of {@link scaleBySecondOrder}. */
export interface SecondOrderOptions {
  /** The curvature C (parameter space); optional for row-space solvers. */
  curvature?: Curvature;
  /** How (C + λI) s = g is solved. */
  solver: DirectionSolver;
  /** Damping λ (default constant λ = 1). */
  damping?: Damping;
  /** The post-direction chain turning s into the final update δ (default: δ = s). */
  tx?: GradientTransformation<unknown>;
  /** The loss, needed when the damping adapts (ρ = actual / predicted decrease on the batch). */
  lossFn?: LossFn<any>;
  /**
   * The objective whose loss `lossFn` is, when there is one: the loss before the step is then read
   * from the step context's forward pass on the batch instead of a forward pass of its own.
   */
  objective?: Objective<any>;
  /** Seed of the step keys when `extra.key` is absent. */
  seed?: number;
  /**
   * Pick the step size (and momentum) from the damped quadratic model with `curvature`: the
   * direction becomes α s (+ μ p, the previous one) with (α, μ) minimizing gᵀδ + ½δᵀ(C + λI)δ
   * over δ = α s + μ p (K-FAC's adaptive coefficients; see `transforms/quadraticModel.ts`), then
   * `tx` runs on it. Costs the curvature Gram of one or two vectors and one read per step.
   */
  coefficients?: AdaptiveCoefficients;
  /**
   * With adaptive damping, do not take a step that raised the loss on the batch (ρ < 0, or a
   * non-finite loss after): the update is zero, λ grows, and the solver and `tx` states stay as
   * they were (Marquardt 1963; Nocedal & Wright Alg. 4.1). Default true.
   */
  rejectBadSteps?: boolean;
}

/** The keys of {@link SecondOrderOptions}. */
const SECOND_ORDER_KEYS = [
  'curvature',
  'solver',
  'damping',
  'tx',
  'lossFn',
  'objective',
  'seed',
  'rejectBadSteps',
  'coefficients',
] as const satisfies readonly (keyof SecondOrderOptions)[];

/**
 * Second-order step (somax v1 assembler): on the curvature batch, build C, solve
 * (C + λI) s = g for the direction s, turn it into the update δ = tx(s), and when the damping
 * adapts (Levenberg-Marquardt) compute the gain ratio
 *
 *   ρ = (L(θ) − L(θ + δ)) / −(gᵀδ + ½(δᵀCδ + λ‖δ‖²))
 *
 * with the losses on the gradient batch (`extra.batch`) and C on the curvature batch, then move λ.
 * A step that raised the loss is rejected (zero update, λ grows) unless `rejectBadSteps` is false.
 * g is the `updates` received (chain contract): the solver sees whether they are the batch
 * gradient itself (`receivesBatchGradient`) only to pick an equivalent, cheaper form.
 * Without `tx` the output is s itself (no sign): descent comes from a negative learning rate in `tx`.
 * Adaptive damping costs one more curvature product, one loss evaluation and one device sync.
 *
 * @see Martens, "Deep learning via Hessian-free optimization" (ICML 2010); somax v1,
 *   "Second-Order, First-Class" (arXiv 2603.25976).
 */
export function scaleBySecondOrder(options: SecondOrderOptions): GradientTransformation<ScaleBySecondOrderState> {
  checkOptionKeys('scaleBySecondOrder', options, SECOND_ORDER_KEYS);
  const {
    curvature,
    solver,
    damping = constantDamping(1.0),
    tx,
    lossFn,
    objective,
    seed = 0,
    rejectBadSteps = true,
    coefficients,
  } = options;
  if (solver.needsOperator && curvature === undefined) {
    throw new InputError('this solver needs a curvature operator: pass `curvature`');
  }
  if (coefficients !== undefined && curvature === undefined) {
    throw new InputError('adaptive coefficients need the curvature of the quadratic model: pass `curvature`');
  }
  if (coefficients !== undefined && coefficients !== 'learningRate' && coefficients !== 'learningRateAndMomentum') {
    throw new InputError(`coefficients must be 'learningRate' or 'learningRateAndMomentum', got '${String(coefficients)}'`);
  }
  const withMomentum = coefficients === 'learningRateAndMomentum';
  if (damping.adaptive && lossFn === undefined) {
    throw new InputError('adaptive damping needs `lossFn` to measure the actual decrease');
  }
  return withReads<ScaleBySecondOrderState>(
    (params) => ({
      step: 0,
      key: makeKey(seed),
      solver: solver.init(params),
      damping: damping.init(),
      tx: tx?.init(params) ?? null,
      ...(withMomentum ? { previous: tree.zerosLike(params) } : {}),
      info: {
        ...solver.initInfo,
        ...(coefficients ? { learningRate: NaN, momentum: 0, modelDecrease: NaN } : {}),
        lam: damping.init().lam,
        ...(damping.adaptive ? { rho: NaN, rhoValid: false, lossBefore: NaN, lossAfter: NaN, stepAccepted: true } : {}),
        lamNext: damping.init().lam,
      },
    }),
    function* (grads, state, params, extra: Extra = {}) {
      if (params === undefined) throw new InputError('second-order transforms need params');
      const batch = extra.curvatureBatch ?? extra.batch;
      const key = extra.key ?? foldIn(state.key, state.step);
      const lam = state.damping.lam;
      // One forward pass per batch for every piece of the step: the step's context, or one of our own.
      const context = extra.context ?? stepContext();
      let op: CurvatureOperator | null = null;
      try {
        op = (solver.needsOperator || coefficients) && curvature ? curvature(params, batch, key, context) : null;
        const problem = { params, grads, batch, key, op, lam, gradsAreBatchGradient: receivesBatchGradient(grads, extra), context };
        const solved = solver.solveReads ? yield* solver.solveReads(problem, state.solver) : solver.solve(problem, state.solver);
        let direction: Tree = solved.direction;
        let info: Record<string, number | boolean> = { ...solved.info, lam };
        if (coefficients && op) {
          // α (and μ) from the damped quadratic model along s (and the previous direction).
          const vs = withMomentum ? [solved.direction, state.previous as Tree] : [solved.direction];
          const model = modelCoefficients(yield* fetchValues(() => modelTerms(op as CurvatureOperator, grads, vs, lam)));
          direction = combineDirections(solved.direction, state.previous, model);
          tree.dispose(solved.direction);
          info = { ...info, learningRate: model.alpha, momentum: model.mu, modelDecrease: model.predictedDecrease };
        }
        let delta: Tree = direction;
        let txState: unknown = null;
        if (tx) {
          [delta, txState] = yield* updateReadsOf(tx, direction, state.tx, params, extra);
          if (!withMomentum) tree.dispose(direction);
        }
        // The direction α s + μ p is the next step's p (tx got its own copy when there is one).
        const nextPrevious = withMomentum ? (tx ? direction : tree.clone(direction)) : undefined;
        let nextDamping = state.damping;
        let rejected = false;
        if (damping.adaptive && lossFn) {
          const rhoOp = op ?? (curvature ? curvature(params, batch, key, context) : null);
          // One read for the model terms, the loss after the step, and the loss before it (unless
          // the caller passed it as a number).
          const known = typeof extra.value === 'number' ? extra.value : undefined;
          const terms = tf.tidy(() => {
            const cd = rhoOp ? rhoOp.matvec(delta) : tree.zerosLike(delta);
            const given = extra.value as tf.Tensor | undefined;
            const shared = () =>
              (context.loss(objective as Objective<unknown>, params, extra.batch as SupervisedBatch<unknown>) as tf.Tensor).clone();
            const before =
              known !== undefined ? tf.scalar(0) : tf.reshape(given ?? (objective ? shared() : lossFn(params, extra.batch)), []);
            return tf.stack([
              tree.vdot(grads, delta),
              tree.vdot(delta, cd),
              tree.vdot(delta, delta),
              lossFn(tree.add(params, delta), extra.batch),
              before,
            ]);
          });
          if (rhoOp !== op) rhoOp?.dispose();
          const [g1, c1, d1, l1, b1] = yield* fetchValues(() => terms);
          const before = known ?? b1;
          const predicted = predictedDecrease(g1, c1, lam * d1);
          const res = damping.update(state.damping, { actualDecrease: before - l1, predictedDecrease: predicted });
          nextDamping = res.state;
          rejected = rejectBadSteps && !(l1 <= before);
          info = { ...info, rho: res.rho, rhoValid: res.valid, lossBefore: before, lossAfter: l1, stepAccepted: !rejected };
        }
        info.lamNext = nextDamping.lam;
        const next = { step: state.step + 1, key: state.key, damping: nextDamping, info };
        if (rejected) {
          // The step raised the loss: no move, and the solver and tx states stay as they were.
          const zeros = tree.zerosLike(delta);
          tree.dispose([delta, solved.state as StateTree, txState as StateTree, (nextPrevious ?? null) as StateTree]);
          const kept = withMomentum ? { previous: tree.clone(state.previous as Tree) } : {};
          return [zeros, { ...next, ...kept, solver: tree.clone(state.solver as StateTree), tx: tree.clone(state.tx as StateTree) }];
        }
        return [delta, { ...next, ...(nextPrevious ? { previous: nextPrevious } : {}), solver: solved.state, tx: txState }];
      } finally {
        op?.dispose();
        if (context !== extra.context) context.dispose();
      }
    },
  );
}
