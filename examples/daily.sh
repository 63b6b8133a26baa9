#!/bin/sh
# pendo-segments: the daily schedule, pull → evaluate → sync → campaign → notify.
#
# Stops at the first failure (set -e): a failed pull never feeds old data to the
# steps after it, and the script exits with the failed step's code. Every step is
# safe to run again, so re-running the whole script after a failure is the fix.
#
# Run by examples/crontab-daily (cron); the systemd service and the GitHub Actions
# workflow (examples/systemd/pendo-segments-daily.service,
# examples/github-actions/daily.yml) run the same five commands as separate steps.
# Environment: PENDO_INTEGRATION_KEY, the PENDO_SEGMENTS_SMTP_* variables and
# PENDO_SEGMENTS_SLACK_WEBHOOK (see campaign.env.example).
set -eu

cd "${PENDO_SEGMENTS_HOME:-/srv/pendo-segments}"
PS="${PENDO_SEGMENTS_BIN:-./venv/bin/pendo-segments}"
VAR="${PENDO_SEGMENTS_VAR:-/var/lib/pendo-segments}"
DATA="$VAR/usage"

echo "== pull"
"$PS" pull --out "$DATA"
echo "== evaluate"
"$PS" evaluate --data "$DATA" --format csv --output "$VAR/members.csv"
echo "== sync"
"$PS" sync apply --data "$DATA" --yes --audit-log "$VAR/pendo-sync-audit.jsonl"
echo "== campaign"
"$PS" campaign no-login run --data "$DATA" --send --state "$VAR/campaign-state.sqlite" --format csv --output "$VAR/last-run.csv"
echo "== notify"
"$PS" alerts notify --data "$DATA" --send --state "$VAR/notify-state.sqlite" --format csv --output "$VAR/last-notify.csv"
echo "== done"
