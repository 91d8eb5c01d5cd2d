import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Dependencies point one way: cli -> client -> (HTTP) -> api -> domains -> store/runtime/lib.
const domainFolders = ['build', 'images', 'containers', 'content', 'snapshots', 'runtime', 'store', 'events', 'distribution', 'volumes', 'networks']
const ban = (groups) => ({ 'no-restricted-imports': ['error', { patterns: groups.map((g) => ({ group: [`**/${g}/*`], message: `this folder must not import from src/${g}` })) }] })

export default tseslint.config(
  { ignores: ['node_modules/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      'no-console': 'error',
      // src/lib/node-http.ts says why: a value import of node:http loads undici and 13-14 MB with it.
      // Even `import { type X }` stays an import of the module at run time: only `import type` is erased.
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportDeclaration[source.value=/^(node:)?http$/][importKind="value"]',
          message: "take node:http's values from src/lib/node-http.ts, its types with `import type`",
        },
      ],
    },
  },
  { files: ['src/cli/**', 'src/client/**'], rules: ban(['api', 'daemon', ...domainFolders]) },
  // compose is one more client of the API: it reaches the engine only through src/client.
  { files: ['src/compose/**'], rules: ban(['api', 'cli', 'daemon', ...domainFolders]) },
  // The dashboard is a client too: it reaches an engine only through src/client, so it shows any engine; its
  // stacks use the compose library, itself a client of src/client alone.
  { files: ['src/dashboard/**'], rules: ban(['api', 'cli', 'daemon', ...domainFolders]) },
  { files: ['src/api/**'], rules: ban(['cli', 'client', 'daemon']) },
  { files: domainFolders.map((f) => `src/${f}/**`), rules: ban(['api', 'cli', 'client', 'daemon']) },
  { files: ['src/lib/**'], rules: ban(['api', 'cli', 'client', 'daemon', ...domainFolders]) },
  { files: ['src/cli/**', 'test/**', 'bench/**', 'src/daemon/main.ts'], rules: { 'no-console': 'off' } },
  // Tests, benches and scripts are short-lived: their memory is not a daemon's.
  { files: ['**/*.test.ts', 'test/**', 'bench/**', 'scripts/**'], rules: { 'no-restricted-syntax': 'off' } },
)
