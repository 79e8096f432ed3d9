// Shared jest settings: SWC transform (fast, keeps decorator metadata) and the workspace aliases.
const { root, swcOptions, jestModuleNameMapper } = require('./scripts/swc-options');

module.exports = {
  rootDir: root,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swcOptions(), swcrc: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: jestModuleNameMapper(),
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // Spawned services bind their metrics endpoints on free ports (see the file).
  setupFiles: ['<rootDir>/scripts/jest-env.js'],
  // `cdk synth` stages a copy of the repository (the image's build context) under deploy/cdk.out.
  modulePathIgnorePatterns: ['<rootDir>/deploy/cdk.out/'],
};
