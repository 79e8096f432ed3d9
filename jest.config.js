// `npm test`: every project's unit and integration tests, including the end-to-end test through
// the embedded MQTT broker. Suites that need an external engine end in .engine.spec.ts and run
// from jest.engines.config.js (`npm run test:engines`).
const preset = require('./jest.preset');

module.exports = {
  ...preset,
  testMatch: ['<rootDir>/{apps,libs,simulator,bench,e2e}/**/*.spec.ts', '<rootDir>/deploy/src/**/*.spec.ts'],
  testPathIgnorePatterns: [...preset.testPathIgnorePatterns, '\\.engine\\.spec\\.ts$'],
  testTimeout: 60_000,
};
