// `npm run test:engines`: suites against real engines started by scripts/engines/up.sh.
// They fail (never skip) when an engine is unreachable.
const preset = require('./jest.preset');

module.exports = {
  ...preset,
  testMatch: ['<rootDir>/{apps,libs,simulator,bench,e2e}/**/*.engine.spec.ts'],
  testTimeout: 120_000,
  maxWorkers: 1,
};
