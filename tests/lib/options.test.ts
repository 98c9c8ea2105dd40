import { HyperparameterError } from '../../lib/errors';
import { checkOptionKeys, nearestName, resolveOptions } from '../../lib/options';
import type { Defaults } from '../../lib/options';

interface Opts {
  tol?: number;
  maxIterations?: number;
  preconditioner?: string;
}
const DEFAULTS = { tol: 1e-5, maxIterations: 20, preconditioner: undefined } satisfies Defaults<Opts>;

describe('options', () => {
  it('fills defaults, keeps given values, and treats an explicit undefined as the default', () => {
    expect(resolveOptions<Opts, typeof DEFAULTS>('cg', undefined, DEFAULTS)).toEqual({
      tol: 1e-5,
      maxIterations: 20,
      preconditioner: undefined,
    });
    const r = resolveOptions<Opts, typeof DEFAULTS>('cg', { tol: 1e-3, maxIterations: undefined, preconditioner: 'jacobi' }, DEFAULTS);
    expect(r).toEqual({ tol: 1e-3, maxIterations: 20, preconditioner: 'jacobi' });
    const n: number = r.maxIterations; // typed as never undefined
    expect(n).toBe(20);
  });

  it('rejects an unknown key, naming it, the owner and the nearest known key', () => {
    expect(() => resolveOptions('newtonCg', { maxIter: 3 } as Opts, DEFAULTS)).toThrow(
      new HyperparameterError("unknown option 'maxIter' for newtonCg; did you mean 'maxIterations'?"),
    );
    expect(() => checkOptionKeys('egn', { lamda0: 5 }, ['lam0', 'lamPolicy'])).toThrow(
      "unknown option 'lamda0' for egn; did you mean 'lam0'?",
    );
    expect(() => checkOptionKeys('adam', { beta1: 0.9 }, ['b1', 'b2', 'eps'])).toThrow("did you mean 'b1'?");
    expect(() => checkOptionKeys('sophiaH', { nprobes: 4 }, ['numProbes', 'gamma'])).toThrow("did you mean 'numProbes'?");
    expect(() => checkOptionKeys('x', { zzzzzz: 1 }, ['tol', 'lam0'])).toThrow("unknown option 'zzzzzz' for x; known options: tol, lam0");
  });

  it('rejects options that are not a plain object', () => {
    expect(() => checkOptionKeys('cg', 3, ['tol'])).toThrow('cg: options must be an object, got number');
    expect(() => checkOptionKeys('cg', null, ['tol'])).toThrow('got null');
    expect(() => checkOptionKeys('cg', [1], ['tol'])).toThrow('got an array');
  });

  it('suggests nothing for a word far from every candidate', () => {
    expect(nearestName('momentum', ['tol', 'lam0'])).toBeUndefined();
    expect(nearestName('Lam0', ['tol', 'lam0'])).toBe('lam0');
  });
});
