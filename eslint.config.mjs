// ESLint: the line limit (140, as prettier's printWidth; URLs exempt) over every TypeScript file.
// Formatting itself is prettier's (`prettier --check`); see package.json's lint script.
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export default [
  { ignores: ['dist/**', 'node_modules/**', 'docs/api/**', 'coverage/**'] },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.mjs', '**/*.cjs'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': ['error', { code: 140, tabWidth: 2, ignoreUrls: true }],
    },
  },
];
