import js from '@eslint/js';
import { createProjectGraphAsync } from '@nx/devkit';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// The boundary rule reads Nx's cached project graph and skips itself, with only a warning, when
// there is none (a fresh clone, CI): compute it first, so the rule always runs, on current tags.
await createProjectGraphAsync({ exitOnError: true });

/**
 * Project dependencies point inwards: apps and tooling on libraries, libraries on adapters and the
 * core, adapters on the core, the core on nothing but itself (tags in each project.json). The rule
 * also rejects importing an app, and a relative import that reaches into another project.
 */
function moduleBoundaries(extra = {}) {
  return {
    depConstraints: [
      { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:core'] },
      { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:core', 'type:lib'] },
      { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:core', 'type:lib', 'type:adapter'] },
      { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:core', 'type:lib', 'type:adapter', 'type:tooling'] },
      { sourceTag: 'type:tooling', onlyDependOnLibsWithTags: ['*'] },
      { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['*'] },
    ],
    ...extra,
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**', '.cache/**', '.nx/**', 'reports/**', 'deploy/cdk.out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name=/^(it|test|describe)$/][callee.property.name=/^(only|skip)$/]", message: 'No focused or skipped tests on main.' },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: { '@nx/enforce-module-boundaries': ['error', moduleBoundaries()] },
  },
  {
    // Tests and their fixtures, whatever layer they test, may also use the test harness and the
    // simulator (type:testing, type:tooling); production code of the layers may not.
    files: ['**/*.spec.ts', '**/testing/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        moduleBoundaries({
          depConstraints: moduleBoundaries().depConstraints.map((c) => ({ ...c, onlyDependOnLibsWithTags: [...new Set([...c.onlyDependOnLibsWithTags, 'type:testing', 'type:tooling'])] })),
        }),
      ],
    },
  },
  {
    // Tooling may depend on anything, apps included. Apps have no import alias (nothing else may
    // import them), so tooling reaches into one by a relative path: allowed here, and only into apps.
    files: ['e2e/**/*.ts', 'bench/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', moduleBoundaries({ allow: ['^(\\.\\./)+apps/'] })] },
  },
  {
    // The processing core stays pure: no I/O, no SDKs, no clocks it was not handed.
    files: ['libs/processing/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'net', 'http', 'better-sqlite3', 'mqtt', '@nestjs/*', '@aws-sdk/*', 'kafkajs'] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
