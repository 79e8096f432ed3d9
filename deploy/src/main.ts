// `cdk synth` / `cdk deploy` run this (deploy/cdk.json). Settings: README "Running on ECS".
import { buildApp } from './app';
import { SettingsError } from './settings';

try {
  buildApp().app.synth();
} catch (err) {
  if (!(err instanceof SettingsError)) throw err;
  console.error(err.message);
  process.exit(1);
}
