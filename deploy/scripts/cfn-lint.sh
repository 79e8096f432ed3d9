#!/usr/bin/env bash
# `npm run lint:cfn` (part of `npm run lint`): synthesizes the templates (deploy/scripts/synth.sh)
# and checks them with cfn-lint (PyPI), installed here into a venv under .cache/cfn-lint.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# Pinned: a newer cfn-lint brings new rules; bump deliberately and fix what it finds.
CFN_LINT_VERSION=1.58.0
VENV="$ROOT/.cache/cfn-lint/venv"
MARKER="$VENV/.installed-cfn-lint-$CFN_LINT_VERSION"

if [ ! -f "$MARKER" ]; then
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "cfn-lint: python3 lacks venv/ensurepip; installing python3-venv (Debian)"
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
  echo "cfn-lint: installing cfn-lint==$CFN_LINT_VERSION into $VENV (PyPI)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
  touch "$MARKER"
fi

bash "$ROOT/deploy/scripts/synth.sh"
templates=("$ROOT"/deploy/cdk.out/*/Meterstream.template.json)
# --format parseable: one finding per line; any finding (error, warning or informational) fails.
"$VENV/bin/cfn-lint" --format parseable --include-checks I -- "${templates[@]}"
echo "cfn-lint $CFN_LINT_VERSION: ${#templates[@]} template(s) clean"
