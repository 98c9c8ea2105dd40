/** Jest: TypeScript through swc, tfjs's CommonJS bundles, stock gradients from `@tensorflow/tfjs`. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/tests/setup.ts'],
  transform: {
    '^.+\\.tsx?$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2020' }, module: { type: 'commonjs' } }],
  },
  testTimeout: 60000,
};
