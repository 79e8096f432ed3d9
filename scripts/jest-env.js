// Runs in every jest worker before its tests (jest.preset.js `setupFiles`). Service processes that
// tests spawn inherit this environment: their metrics and health endpoints take a free port
// unless a test picks one, so parallel suites (and other checkouts on this machine) never collide
// on the defaults 9464/9465.
process.env.BRIDGE_METRICS_PORT ??= '0';
process.env.PROCESSOR_METRICS_PORT ??= '0';
