// Shared jest settings: SWC transform (fast, keeps decorator metadata) and the workspace aliases.
const { root, swcOptions, jestModuleNameMapper } = require('./scripts/swc-options');

module.exports = {
  rootDir: root,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swcOptions(), swcrc: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: jestModuleNameMapper(),
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
