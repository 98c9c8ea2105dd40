import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

const input = { index: 'index.ts', testing: 'testing.ts' };
// tfjs and fast-check are the user's: never bundled.
const external = [/^@tensorflow\//, 'fast-check'];

export default [
  {
    input,
    external,
    plugins: [
      typescript({
        tsconfig: './tsconfig.json',
        include: ['index.ts', 'testing.ts', 'lib/**/*.ts', 'models/**/*.ts', 'transforms/**/*.ts', 'chains/**/*.ts'],
        compilerOptions: { noEmit: false, declaration: false, types: [] },
      }),
    ],
    output: [
      { dir: 'dist', format: 'es', entryFileNames: '[name].mjs', chunkFileNames: 'chunks/[name]-[hash].mjs', sourcemap: true },
      {
        dir: 'dist',
        format: 'cjs',
        entryFileNames: '[name].cjs',
        chunkFileNames: 'chunks/[name]-[hash].cjs',
        sourcemap: true,
        exports: 'named',
      },
    ],
  },
  {
    input,
    external,
    plugins: [dts({ compilerOptions: { types: [] } })],
    output: [
      { dir: 'dist', format: 'es', entryFileNames: '[name].d.mts', chunkFileNames: 'chunks/[name]-[hash].d.mts' },
      { dir: 'dist', format: 'es', entryFileNames: '[name].d.cts', chunkFileNames: 'chunks/[name]-[hash].d.cts' },
    ],
  },
];
