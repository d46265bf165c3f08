import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** An import whose path passes through one of these top-level folders of the project. */
const through = (folders) => `(^|/)(${folders.join('|')})/`;

const SUPPORT = ['support', 'test', 'bench'];
const noSupport = {
  regex: through(SUPPORT),
  message: 'production code never imports test or benchmark support (support/, test/, bench/)',
};

/**
 * The layers, enforced: contracts import nothing of Berth; lib only contracts; the engine only
 * contracts and no Node I/O; the browser app only contracts and its own files; production code
 * never test or benchmark support. Each block lists every rule for its files, since a later
 * block's options for the same rule replace an earlier one's.
 */
const layers = [
  {
    files: ['bin/**', 'cli/**', 'services/**', 'agents/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noSupport] }] },
  },
  {
    files: ['contracts/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.\\./', message: 'contracts import nothing of Berth' }] },
      ],
    },
  },
  {
    files: ['lib/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noSupport,
            {
              regex: through(['services', 'agents', 'cli', 'dashboards', 'bin']),
              message: 'lib imports only contracts (and lib)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['services/advisor/engine/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!\\.\\./\\.\\./contracts/)',
              message: 'the engine is pure: it imports only contracts and its own files',
            },
            { regex: '^node:', message: 'the engine is pure: no I/O' },
          ],
        },
      ],
    },
  },
  {
    files: ['dashboards/web/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: through(['lib', 'services', 'agents', 'cli', 'bin', ...SUPPORT]),
              message: 'the browser app imports only contracts and its own files',
            },
            { regex: '^node:', message: 'the browser app runs in a browser' },
          ],
        },
      ],
    },
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', '.berth/', 'coverage/', 'test-artifacts/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...layers,
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
