#!/usr/bin/env bash
# Validates the release packaging without publishing anything:
#   1. goreleaser check on .goreleaser.yml;
#   2. a snapshot release of one target (linux/amd64) from a copy of the
#      configuration narrowed to that target, signing and publishing skipped;
#   3. the artefacts carry the names the Terraform registry expects: the zip
#      with the versioned binary inside, and the SHA256SUMS listing the zip
#      and the manifest (terraform-registry-manifest.json under its release
#      name, which the release uploads beside them).
# goreleaser is installed once into the cache directory.
set -euo pipefail

GORELEASER_VERSION=v2.15.0 # the newest that builds with Go 1.26
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${AIRFLOWIAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-airflowiam}
BIN_DIR=$CACHE/tools/goreleaser-$GORELEASER_VERSION
GORELEASER=$BIN_DIR/goreleaser
NAME=terraform-provider-airflowiam

if [ ! -x "$GORELEASER" ]; then
	echo "installing goreleaser $GORELEASER_VERSION into $BIN_DIR" >&2
	GOBIN=$BIN_DIR go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
fi

cd "$REPO_ROOT"
log=$REPO_ROOT/.cache/release.log
mkdir -p "$REPO_ROOT/.cache"
run() { "$@" >"$log" 2>&1 || { cat "$log" >&2; echo "release-check: $* failed" >&2; exit 1; }; }
run "$GORELEASER" check

work=$REPO_ROOT/.cache/release
rm -rf "$work"
mkdir -p "$work"
# One target: replace the goos/goarch lists and drop the ignore list.
python3 - .goreleaser.yml "$work/goreleaser.yml" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
src = re.sub(r"(?m)^    goos: .*$", "    goos: [linux]", src)
src = re.sub(r"(?m)^    goarch: .*$", "    goarch: [amd64]", src)
src = re.sub(r"(?m)^    ignore:\n(?:      .*\n)+", "", src)
src = "dist: .cache/release/dist\n" + src
open(sys.argv[2], "w").write(src)
PY
run "$GORELEASER" release --config "$work/goreleaser.yml" --snapshot --clean --skip=sign,publish,before

dist=$work/dist
zip=$(ls "$dist"/${NAME}_*_linux_amd64.zip)
version=${zip#"$dist/${NAME}_"}
version=${version%_linux_amd64.zip}
sums=$dist/${NAME}_${version}_SHA256SUMS
manifest=${NAME}_${version}_manifest.json
fail() { echo "release-check: $*" >&2; exit 1; }
[ -f "$sums" ] || fail "missing $(basename "$sums")"
grep -q " $(basename "$zip")\$" "$sums" || fail "SHA256SUMS does not list $(basename "$zip")"
want=$(sha256sum terraform-registry-manifest.json | cut -d' ' -f1)
grep -q "^$want  $manifest\$" "$sums" || fail "SHA256SUMS does not list $manifest with the hash of terraform-registry-manifest.json"
(cd "$dist" && sha256sum --check --ignore-missing --quiet "$(basename "$sums")") || fail "checksums do not match"
python3 - "$zip" "${NAME}_v${version}" <<'PY' || fail "the zip does not hold the binary ${NAME}_v${version}"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
sys.exit(0 if sys.argv[2] in names else 1)
PY
echo "release-check: ok ($(basename "$zip"), $(basename "$sums") listing $manifest)"
