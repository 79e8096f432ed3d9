#!/usr/bin/env node
// Adds up jest's JSON reports into one closing line, "N passed, N failed", and fails when a
// report is missing or ran no test at all (a suite that silently ran nothing is a failure).
const fs = require('node:fs');

let passed = 0;
let failed = 0;
let ok = true;
for (const file of process.argv.slice(2)) {
  if (!fs.existsSync(file)) {
    console.log(`${file}: missing (the run did not finish)`);
    ok = false;
    continue;
  }
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  const suiteFailures = report.numFailedTestSuites ?? 0;
  console.log(`${file}: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${suiteFailures} suite(s) failed`);
  if (report.numTotalTests === 0) {
    console.log(`${file}: ran no test`);
    ok = false;
  }
  passed += report.numPassedTests;
  failed += report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
  if (!report.success) ok = false;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(ok && failed === 0 ? 0 : 1);
