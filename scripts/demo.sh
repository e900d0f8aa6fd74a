#!/usr/bin/env bash
# make demo: the quickstart end to end on this machine, in one command.
#   1. installs what it needs (the Airflow 3 and moto venvs, Terraform or
#      OpenTofu) into the cache directory, once;
#   2. builds the provider and points Terraform at it with dev_overrides in a
#      generated CLI configuration (never the user's own);
#   3. starts the sandbox: Airflow 3 and moto as processes, fakegcp seeded
#      with the quickstart's accounts, all on 127.0.0.1;
#   4. applies examples/quickstart, prints the check's verdicts and the AWS
#      connection as Airflow returns it;
#   5. breaks one hop on purpose and shows the plan's error;
#   6. stops everything, also on failure or Ctrl-C.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO_ROOT"
DEMO=$REPO_ROOT/.cache/demo
START=$SECONDS
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Installing what the demo needs (once; cached in ${AIRFLOWIAM_CACHE_DIR:-~/.cache/terraform-provider-airflowiam})"
scripts/testenv.sh venv airflow3 >/dev/null
scripts/testenv.sh venv moto >/dev/null
eval "$(scripts/testenv.sh terraform)"
terraform version | head -1

say "Building the provider and the sandbox"
rm -rf "$DEMO"
mkdir -p "$DEMO/bin" "$DEMO/work"
go build -o "$DEMO/bin/terraform-provider-airflowiam" .
go build -o "$DEMO/sandbox" ./internal/sandbox
cat >"$DEMO/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "registry.terraform.io/airflowiam/airflowiam" = "$DEMO/bin"
    "registry.opentofu.org/airflowiam/airflowiam" = "$DEMO/bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE=$DEMO/terraformrc CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
cp examples/quickstart/*.tf "$DEMO/work/"

say "Starting the sandbox: Airflow 3, moto and fakegcp on 127.0.0.1"
"$DEMO/sandbox" up -seed examples/quickstart/sandbox-seed.json -tfvars "$DEMO/work/terraform.tfvars.json" \
	>"$DEMO/sandbox.log" 2>&1 &
SANDBOX_PID=$!
stop_sandbox() {
	if kill -0 "$SANDBOX_PID" 2>/dev/null; then
		kill -TERM "$SANDBOX_PID" 2>/dev/null || true
		wait "$SANDBOX_PID" 2>/dev/null || true
	fi
}
trap 'stop_sandbox' EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 300); do
	[ -f "$DEMO/work/terraform.tfvars.json" ] && break
	kill -0 "$SANDBOX_PID" 2>/dev/null || { cat "$DEMO/sandbox.log" >&2; echo "demo: the sandbox did not start" >&2; exit 1; }
	sleep 1
done
[ -f "$DEMO/work/terraform.tfvars.json" ] || { cat "$DEMO/sandbox.log" >&2; echo "demo: the sandbox took too long" >&2; exit 1; }
grep '^sandbox:' "$DEMO/sandbox.log"
var() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$DEMO/work/terraform.tfvars.json" "$1"; }

tf() { terraform -chdir="$DEMO/work" "$@" -no-color 2> >(grep -v -e 'Provider development overrides' -e 'dev_overrides' >&2); }

say "terraform apply (the check runs at the end of it)"
tf apply -auto-approve -input=false | grep -v '^\s*$' | grep -E '^[^ ]+: (Creat|Read)|^Apply complete|^Plan:|Error' || true
tf output check

say "The AWS connection, as Airflow's REST API returns it"
AF=$(var airflow_url)
JWT=$(curl -sf -X POST "$AF/auth/token" -H 'Content-Type: application/json' \
	-d "{\"username\": \"$(var airflow_username)\", \"password\": \"$(var airflow_password)\"}" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf "$AF/api/v2/connections/aws_analytics" -H "Authorization: Bearer $JWT" |
	python3 -c 'import json,sys; c=json.load(sys.stdin); c["extra"]=json.loads(c["extra"]); print(json.dumps(c, indent=2))'

say "Breaking one hop on purpose: removing Terraform's Token Creator grant on the workers' account"
"$DEMO/sandbox" revoke -google "$(var google_endpoint)" -token "$(var google_access_token)" \
	-account airflow-worker@airflow-prod.iam.gserviceaccount.com -member user:terraform@example.com

say "terraform plan: the check names the broken hop and the fix"
if tf plan -input=false >"$DEMO/plan.out" 2>&1; then
	cat "$DEMO/plan.out"
	echo "demo: the plan succeeded although a hop is broken" >&2
	exit 1
fi
sed -n '/Error:/,$p' "$DEMO/plan.out"

say "Stopping the sandbox"
stop_sandbox
trap - EXIT
echo "demo: done in $((SECONDS - START))s"
