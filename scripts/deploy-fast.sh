#!/usr/bin/env bash
# Fast deploy for code-only changes: rebuilds the Lambda bundle and swaps the function's code in
# place through the Lambda API, skipping CloudFormation (seconds instead of minutes).
#
#   npm run deploy:fast                 # hotswap; non-hotswappable changes are skipped, with a note
#   npm run deploy:fast -- --fallback   # hotswap, or a full CloudFormation deploy if it must
#
# When a full deploy (`npm run deploy`) is needed:
#   - the first deploy (hotswap only updates a stack that already exists);
#   - anything under lib/ or bin/, cdk.json, or -c context values: table, secret, IAM, API
#     routes, usage plan, alarms, dashboard, memory size, timeout, runtime, architecture;
#   - after a hotswap, eventually: hotswapped code drifts from what CloudFormation recorded,
#     so finish a series of hotswaps with `npm run deploy` (and never hotswap production).
# What hotswap does cover: the function's code (anything under lambda/ and its npm
# dependencies) and its environment variables/description.
#
# Never prompts: no stdin, no approval questions (CI-safe). Uses the usual AWS credential chain
# (AWS_PROFILE, AWS_REGION, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

STACK=NanobotStack
mode=--hotswap
args=()
for arg in "$@"; do
  case "$arg" in
    --fallback) mode=--hotswap-fallback ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    *) args+=("$arg") ;;
  esac
done

echo "deploy-fast: cdk deploy $mode $STACK (code-only; run 'npm run deploy' for infrastructure changes)" >&2
exec npx --no-install cdk deploy "$STACK" "$mode" \
  --require-approval never \
  --no-notices \
  --progress events \
  "${args[@]+"${args[@]}"}" </dev/null
