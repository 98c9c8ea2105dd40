// Every factory checks its options: an unknown key is an error naming the key, the factory and the
// nearest known key (the cases measured in the contracts issue first, then every method and transform).
import * as tf from '@tensorflow/tfjs-core';
import * as somax from '../../index';
import type { MethodName, Tree } from '../../index';

const lossFn = (p: Tree) => tf.sum(tf.square((p as { w: tf.Tensor }).w)) as tf.Scalar;
const objective = {
  predict: (p: Tree, x: tf.Tensor) => tf.matMul(x as tf.Tensor2D, (p as { w: tf.Tensor2D }).w),
  loss: 'meanSquaredError' as const,
};

describe('unknown options are refused, naming the nearest known key', () => {
  test.each([
    [
      'newtonCg maxIter',
      () => somax.newtonCg(lossFn, { maxIter: 3 } as never),
      "unknown option 'maxIter' for newtonCg; did you mean 'maxIterations'?",
    ],
    ['egn lamda0', () => somax.egn(objective, { lamda0: 5 } as never), "unknown option 'lamda0' for egn; did you mean 'lam0'?"],
    ['adam beta1', () => somax.adam(1e-2, { beta1: 0.9 } as never), "unknown option 'beta1' for adam; did you mean 'b1'?"],
    [
      'sophiaH nprobes',
      () => somax.sophiaH(lossFn, { nprobes: 4 } as never),
      "unknown option 'nprobes' for sophiaH; did you mean 'numProbes'?",
    ],
    ["make('egn', { lam })", () => somax.make('egn', { objective, lam: 1 } as never), "unknown option 'lam' for egn; did you mean 'lam0'?"],
    ['adahessian beta2 (old name)', () => somax.adahessian(lossFn, { beta2: 0.99 } as never), "did you mean 'b2'?"],
    ['sqn historySize (old name)', () => somax.sqn(lossFn, { historySize: 3 } as never), "did you mean 'memorySize'?"],
    ['sgn guardNonFinite (old name)', () => somax.sgn(objective, { guardNonFinite: false } as never), "did you mean 'skipNonFinite'?"],
    ['sqn lineSearch (old name)', () => somax.sqn(lossFn, { lineSearch: true } as never), "did you mean 'linesearch'?"],
    ['cgSolver maxiter (old name)', () => somax.cgSolver({ maxiter: 3 } as never), "did you mean 'maxIterations'?"],
    [
      'trustRegionDamping',
      () => somax.trustRegionDamping({ minlam: 1 } as never),
      "unknown option 'minlam' for trustRegionDamping; did you mean 'minLam'?",
    ],
    ['scaleByAdam', () => somax.scaleByAdam({ b3: 1 } as never), "unknown option 'b3' for scaleByAdam"],
    ['trace', () => somax.trace(0.9, { nesterow: true } as never), "did you mean 'nesterov'?"],
    ['cosineDecaySchedule', () => somax.cosineDecaySchedule({ initValue: 1, decaySteps: 10, alfa: 0 } as never), "did you mean 'alpha'?"],
    [
      'hutchinsonEstimator',
      () => somax.hutchinsonEstimator(somax.hessianCurvature(lossFn), { nProbes: 2 } as never),
      "did you mean 'numProbes'?",
    ],
    [
      'scaleByDiagonalCurvature',
      () => somax.scaleByDiagonalCurvature(somax.exactDiagEstimator(lossFn), { mode: 'sophia', beta1: 0.9 } as never),
      "did you mean 'b1'?",
    ],
    ['lbfgs', () => somax.lbfgs(lossFn, { history: 3 } as never), "unknown option 'history' for lbfgs"],
    [
      'scaleBySecondOrder',
      () =>
        somax.scaleBySecondOrder({
          solver: somax.directSolver(),
          curvature: somax.hessianCurvature(lossFn),
          coeficients: 'learningRate',
        } as never),
      "unknown option 'coeficients' for scaleBySecondOrder; did you mean 'coefficients'?",
    ],
  ])('%s', (_name, build, message) => {
    expect(build).toThrow(somax.HyperparameterError);
    expect(build).toThrow(message);
  });

  test.each(somax.listMethods())('make(%s) refuses an unknown key and builds with known ones', (name: MethodName) => {
    const model = { lossFn, objective };
    expect(() => somax.make(name, { ...model, notAnOption: 1 } as never)).toThrow(`unknown option 'notAnOption' for ${name}`);
    expect(typeof somax.make(name, { ...model, learningRate: 0.1 } as never).update).toBe('function');
  });

  test('an options value that is not an object is refused; an explicit undefined takes the default', () => {
    expect(() => somax.egn(objective, 3 as never)).toThrow('egn: options must be an object, got number');
    expect(() => somax.egn(objective, { lam0: undefined })).not.toThrow();
  });

  test('unknown method names suggest the nearest', () => {
    expect(() => somax.make('swmgn' as MethodName, { objective } as never)).toThrow("unknown method 'swmgn'; did you mean 'swmng'?");
  });
});

describe('options of the step, the adapters, the models and the testing kit are checked too', () => {
  test.each([
    [
      'makeStep options',
      () =>
        somax.makeStep(somax.sgd(0.1), lossFn)({ w: tf.ones([2, 1]) }, somax.sgd(0.1).init({ w: tf.ones([2, 1]) }), null, {
          curvaturebatch: 1,
        } as never),
      "unknown option 'curvaturebatch' for makeStep; did you mean 'curvatureBatch'?",
    ],
    [
      'asTfOptimizer',
      () => somax.asTfOptimizer(somax.sgd(0.1), { nmae: 'x' } as never),
      "unknown option 'nmae' for asTfOptimizer; did you mean 'name'?",
    ],
    ['mlpObjective', () => somax.mlpObjective({ loss: 'meanSquaredError', activaton: 'relu' } as never), "did you mean 'activation'?"],
    [
      'jvp',
      () => somax.jvp((p) => p as tf.Tensor, tf.ones([2]), tf.ones([2]), { outputshape: [2] } as never),
      "did you mean 'outputShape'?",
    ],
  ])('%s', (_name, call, message) => {
    const before = tf.memory().numTensors;
    expect(call).toThrow(message);
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(4); // the test's own inputs
  });
});
