#!/usr/bin/env bash
# provider-schema.sh OUT: writes the provider's schema, as `terraform providers
# schema -json` prints it, to OUT, keyed "airflowiam" so that
# `tfplugindocs generate --providers-schema OUT` finds it.
#
# It works the same with Terraform and with OpenTofu (eval the output of
# scripts/testenv.sh terraform first): the provider is built into a plugin
# directory under the registry host the CLI resolves (TF_ACC_PROVIDER_HOST,
# default registry.terraform.io), and the user's CLI configuration is ignored.
set -euo pipefail

out=${1:?usage: provider-schema.sh OUT}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
host=${TF_ACC_PROVIDER_HOST:-registry.terraform.io}
tf=${TF_ACC_TERRAFORM_PATH:-terraform}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
plugin="$work/plugins/$host/airflowiam/airflowiam/0.0.1/$(go env GOOS)_$(go env GOARCH)"
mkdir -p "$plugin"
(cd "$root" && go build -o "$plugin/terraform-provider-airflowiam_v0.0.1" .)
cat >"$work/main.tf" <<TF
terraform {
  required_providers {
    airflowiam = {
      source = "$host/airflowiam/airflowiam"
    }
  }
}
TF
(
	cd "$work"
	export TF_CLI_CONFIG_FILE=/dev/null
	"$tf" init -backend=false -input=false -plugin-dir=plugins >/dev/null
	"$tf" providers schema -json
) | sed "s#\"$host/airflowiam/airflowiam\"#\"airflowiam\"#" >"$work/schema.json"
grep -q '"airflowiam"' "$work/schema.json" || {
	echo "provider-schema.sh: no airflowiam provider in the schema $tf printed" >&2
	exit 1
}
mkdir -p "$(dirname "$out")"
mv "$work/schema.json" "$out"
