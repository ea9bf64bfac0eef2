#!/usr/bin/env bash
# Lint template.yaml with cfn-lint and `sam validate --lint`, offline and
# without AWS credentials. Exits non-zero on any finding, warnings included.
#
#   scripts/lint-template.sh [TEMPLATE]      (default: template.yaml)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
"$here/ensure-venv.sh" "$here/requirements-lint.txt"
bin="$root/.venv/bin"
template="${1:-template.yaml}"
cd "$root"

# Neither tool needs an account, but the SAM translator insists on a region
# and botocore on some credentials; dummy ones keep a developer's real ones
# (and profiles) out of it.
export AWS_ACCESS_KEY_ID=lint AWS_SECRET_ACCESS_KEY=lint
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
export SAM_CLI_TELEMETRY=0

status=0
echo "cfn-lint $template" >&2
"$bin/cfn-lint" -- "$template" || status=1

# sam validate --lint translates the SAM resources and runs cfn-lint's rules
# on the result; it exits non-zero on warnings as well as errors.
echo "sam validate --lint $template" >&2
"$bin/sam" validate --lint --template "$template" --region us-east-1 || status=1

if [ "$status" -ne 0 ]; then
    echo "lint-template: findings above" >&2
else
    echo "lint-template: clean" >&2
fi
exit "$status"
