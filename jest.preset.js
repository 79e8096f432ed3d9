// Shared jest settings: SWC transform (fast, keeps decorator metadata) and the workspace aliases.
const { root, swcOptions, jestModuleNameMapper } = require('./scripts/swc-options');

module.exports = {
  rootDir: root,
  // jest's node environment, which also kills every process a test file left running (see the file).
  testEnvironment: '<rootDir>/scripts/jest/child-process-environment.js',
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swcOptions(), swcrc: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: jestModuleNameMapper(),
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // Spawned services bind their metrics endpoints on free ports (see the file).
  setupFiles: ['<rootDir>/scripts/jest-env.js'],
  // `cdk synth` stages a copy of the repository (the image's build context) under deploy/cdk.out.
  modulePathIgnorePatterns: ['<rootDir>/deploy/cdk.out/'],
};
