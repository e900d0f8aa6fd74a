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
#   5. runs a real task (examples/quickstart/dags/whoami.py) with
#      `airflow dags test`: Airflow's own hooks, as a worker whose Google
#      identity is the sandbox's metadata server, print who they are on AWS
#      and on Google;
#   6. breaks one hop on purpose (disables the chain's delegate, as a person
#      would in the console), shows the plan's error and the same task failing;
#   7. stops everything, also on failure or Ctrl-C.
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
	-worker "$DEMO/worker.json" >"$DEMO/sandbox.log" 2>&1 &
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

# worker ARGS...: runs `airflow ARGS...` as a worker of the sandbox's Airflow:
# its database, the sandbox's metadata server as its Google identity, moto as
# AWS, and testenv/shim (which sends *.googleapis.com to the fake); no key and
# none of this machine's own cloud credentials.
worker() {
	python3 - "$DEMO/worker.json" "$REPO_ROOT" "$DEMO" "$@" <<'PY'
import json, os, sys
spec, root, demo, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
w = json.load(open(spec))
env = {k: os.environ[k] for k in ("HOME", "LANG", "TMPDIR") if k in os.environ}
env.update(w["env"])
env.update(PATH=os.path.dirname(w["python"]) + os.pathsep + os.environ["PATH"], PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1",
           PYTHONPATH=os.path.join(root, "testenv", "shim"), CLOUDSDK_CONFIG=os.path.join(demo, "gcloud"),
           AIRFLOW__CORE__DAGS_FOLDER=os.path.join(root, "examples", "quickstart", "dags"))
os.execve(w["python"], [w["python"], "-m", "airflow"] + args, env)
PY
}
# whoami runs the quickstart's DAG and prints what its tasks printed and how they ended.
whoami() {
	local rc=0
	worker dags test quickstart_whoami >"$DEMO/whoami-$1.log" 2>&1 || rc=$?
	python3 - "$DEMO/whoami-$1.log" <<'PY'
import re, sys
for line in open(sys.argv[1]):
    if "whoami: " in line:
        print("  " + line[line.index("whoami: "):].rstrip())
    elif "[DAG TEST] running task" in line:
        print("task " + re.search(r"quickstart_whoami\.(\w+)", line).group(1))
    elif re.match(r"^[\w.]+(Error|Exception): ", line):
        m = re.search(r'"message": "([^"]*)"', line)
        print("  raised " + line.split(":")[0].split(".")[-1] + (": " + m.group(1) if m else ": " + line.split(": ", 1)[1][:160].rstrip()))
    elif "DagRun Finished" in line:
        print("dag run " + re.search(r"state=(\w+)", line).group(1))
PY
	return $rc
}

say "A real task: Airflow's own hooks, as a worker, through the two connections (airflow dags test)"
if ! whoami ok; then
	tail -40 "$DEMO/whoami-ok.log" >&2
	echo "demo: the task failed on a healthy path" >&2
	exit 1
fi

say "Breaking one hop on purpose: disabling the chain's delegate, bq-delegate, as a person would in the console"
curl -sf -X POST -H "Authorization: Bearer $(var google_access_token)" -H 'Content-Type: application/json' -d '{}' \
	"$(var google_endpoint)/v1/projects/airflow-prod/serviceAccounts/bq-delegate@airflow-prod.iam.gserviceaccount.com:disable" >/dev/null
echo "disabled bq-delegate@airflow-prod.iam.gserviceaccount.com"

say "terraform plan: the check names the broken hop and the fix"
if tf plan -input=false >"$DEMO/plan.out" 2>&1; then
	cat "$DEMO/plan.out"
	echo "demo: the plan succeeded although a hop is broken" >&2
	exit 1
fi
sed -n '/Error:/,$p' "$DEMO/plan.out"

say "The same task on the broken path"
if whoami broken; then
	echo "demo: the task succeeded although a hop is broken" >&2
	exit 1
fi

say "Stopping the sandbox"
stop_sandbox
trap - EXIT
echo "demo: done in $((SECONDS - START))s"
