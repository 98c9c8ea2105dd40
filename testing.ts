/**
 * `somax/testing`: fast-check arbitraries and law checkers for gradient transformations.
 * @packageDocumentation
 */
export {};
