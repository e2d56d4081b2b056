import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers of lib/, lowest first. A folder may import only folders on a lower line, so the wire protocol and
// storage never learn about what is built on them, and forbidding the same line rules out cycles. An ESLint rule
// rather than dependency-cruiser: no extra dependency, and it runs in the same lint pass as everything else.
const LIB_LAYERS = [
  // metrics and tracing: the ports every layer records through, with their adapters
  // contract: names of the HTTP contract shared by the service and its typed client (the client ships it)
  ['contract', 'config', 'deadline', 'retry', 'metrics', 'tracing'],
  ['logging'],
  ['bitrix24', 'secrets', 'state'], // wire protocol, secret storage, shared-state storage: none knows the others
  ['errors'], // the service's error catalogue with HTTP statuses
  ['signing'],
  ['portal'], // the one place that joins bitrix24 and secrets
  ['imbot'],
  ['events', 'typing'],
  ['http'], // the HTTP edge
  ['client'], // the typed client for callers
];

// Entry points and dev tooling build on lib/, never the other way round.
const OUTSIDE_LIB = ['functions', 'bin', 'sandbox', 'test', 'bench', 'devtools'];

/** Matches a relative import that climbs out of the importing folder into one of `folders`. */
const importOf = (folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;

const outsideLib = {
  regex: importOf(OUTSIDE_LIB),
  message: 'lib/ is imported by functions/, bin/ and the dev tooling, never the other way round.',
};

/** One config per lib folder: a later config replaces the rule's options, so each carries every pattern it needs. */
const layerConfigs = LIB_LAYERS.flatMap((folders, rank) =>
  folders.map((folder) => {
    const notBelow = LIB_LAYERS.slice(rank)
      .flat()
      .filter((other) => other !== folder);
    const upward = {
      regex: importOf(notBelow),
      message: `lib/${folder} may import only the lib folders on a lower line of LIB_LAYERS in eslint.config.js.`,
    };
    const patterns = notBelow.length > 0 ? [outsideLib, upward] : [outsideLib];
    return { files: [`lib/${folder}/**`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
  }),
);

export default tseslint.config(
  {
    ignores: [
      '.cache/',
      '.schemathesis/',
      'node_modules/',
      'dist/',
      'packages/*/dist/',
      '.serverless/',
      '.esbuild/',
      '.build/',
      '.venv/',
      '.node-runtime/',
      'coverage/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
  },
  {
    // Scripts the Serverless Framework loads with require() (`${file(...)}` in serverless.yml).
    files: ['deploy/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Small enough to read in one sitting. Tests are left out: a describe block is a list of cases, not a unit.
    files: ['lib/**', 'functions/**', 'bin/**', 'sandbox/**', 'bench/**', 'devtools/**', 'scripts/**', 'examples/**'],
    rules: {
      'max-lines': ['error', { max: 300, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  { files: ['lib/**'], rules: { 'no-restricted-imports': ['error', { patterns: [outsideLib] }] } },
  ...layerConfigs,
);
