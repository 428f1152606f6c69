// @ts-check
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ROOT = import.meta.dirname;

/**
 * `subgraphs/<name>`, `test/support`, or the top-level folder of a repository path.
 * @param {string} rel
 */
function areaOf(rel) {
  const parts = rel.split(path.sep);
  if (parts[0] === 'subgraphs' && parts.length > 2) return `subgraphs/${parts[1]}`;
  if (parts[0] === 'test' && parts[1] === 'support') return 'test/support';
  return parts.length > 1 ? parts[0] : '.';
}

/**
 * Ownership visible in imports (docs/adr/0002, style.md habit 14): no subgraph imports another's
 * files; lib names no subgraph and imports neither subgraphs nor the gateway; the gateway, contracts
 * and end-to-end tests reach subgraphs only through test/support (tests) or not at all. Composition
 * roots (schema/, scripts/, bench/, ops/, test/support/) may name every subgraph.
 */
/** @type {import('eslint').Rule.RuleModule} */
const boundaries = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const from = path.relative(ROOT, context.filename);
    const here = areaOf(from);
    /**
     * @param {import('estree').Node} node
     * @param {unknown} source
     */
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const there = areaOf(path.relative(ROOT, path.resolve(path.dirname(context.filename), source)));
      if (here === there) return;
      const intoSubgraph = there.startsWith('subgraphs/');
      let message;
      if (here.startsWith('subgraphs/') && intoSubgraph) {
        message = `${here} must not import ${there}: use contracts/ (wire formats) or, in tests, test/support.`;
      } else if (here === 'lib' && (intoSubgraph || there === 'gateway')) {
        message = `lib is the shared kernel: it must not import ${there}.`;
      } else if (['gateway', 'contracts', 'test'].includes(here) && intoSubgraph) {
        message = `${here} must not import ${there}: tests reach other services through test/support.`;
      } else if (here === 'contracts' && !['lib', 'contracts', 'test/support'].includes(there)) {
        message = 'contracts/ depends on nothing but lib (its tests: test/support).';
      }
      if (message) context.report({ node, message });
    };
    /** @param {import('estree').Node & { source?: import('estree').Node | null }} node */
    const visit = (node) => check(node, node.source?.type === 'Literal' ? node.source.value : undefined);
    return {
      ImportDeclaration: visit,
      ExportNamedDeclaration: visit,
      ExportAllDeclaration: visit,
      ImportExpression: visit,
      Literal(node) {
        if (here === 'lib' && typeof node.value === 'string' && /\bsubgraphs\/[a-z]/.test(node.value)) {
          context.report({ node, message: 'lib must not name a subgraph.' });
        }
      },
    };
  },
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'data/**',
      '**/generated/**',
      'keys/**',
      'dist/**',
      'web/dist/**',
      'web/src/gql/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            'eslint.config.js',
            'schema/api-schema.loader.js',
            'bench/control.preload.js',
          ],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { tradesage: { rules: { boundaries } } },
    rules: {
      'tradesage/boundaries': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' },
      ],
      // kill(-1), kill(0) or a reused pid can reach processes that are not ours (the `make dev` stop
      // bug of issue 11): signal children through lib/process-signal.ts, or ChildProcess#kill.
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'kill',
          message: 'Use lib/process-signal.ts (signalChild, signalChildGroup) or ChildProcess#kill.',
        },
      ],
    },
  },
  {
    files: ['**/*.config.ts', 'codegen.ts', 'eslint.config.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
