#!/usr/bin/env bash
# The test command (README): installs what the tests need when it is missing,
# then runs every check and every test, end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")"

export PATH="$(go env GOPATH)/bin:$PATH"

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== install: nginx and mox for the real-target tests, hey for the bench, gcc for -race, chromium and xmllint for the reports"
# From apt, with "apt-get update" only when something has to be installed.
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
updated=""
apt_install() {
	[ -n "$updated" ] || { $sudo apt-get update -qq; updated=1; }
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	apt_install nginx-light || apt_install nginx
	# The package may start a system nginx on :80; the tests run their own.
	$sudo service nginx stop >/dev/null 2>&1 || true
fi
command -v hey >/dev/null 2>&1 || apt_install hey
# go test -race needs cgo, and so a C compiler.
command -v gcc >/dev/null 2>&1 || apt_install gcc libc6-dev
# mox at the version its tools module pins, built once into .tools/bin
# (ignored by git); rebuilt only when missing or of another version.
mox_version=$(sed -n 's/^\tgithub.com\/mjl-\/mox \(v[^ ]*\).*/\1/p' targets/mox/tools/go.mod)
if ! .tools/bin/mox version 2>/dev/null | grep -q "^$mox_version\b"; then
	(cd targets/mox/tools && go build -o ../../../.tools/bin/mox github.com/mjl-/mox)
fi

# The HTML report's browser test opens it in Debian's chromium; the JUnit
# report is validated against its schema with xmllint (libxml2-utils).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
	apt_install chromium fonts-dejavu-core
fi
command -v xmllint >/dev/null 2>&1 || apt_install libxml2-utils

echo "== install: prometheus (promtool too) for the canary's real-Prometheus test"
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
	apt_install prometheus
	# The package starts a system Prometheus on :9090; the test runs its own.
	$sudo service prometheus stop >/dev/null 2>&1 || true
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
# Pinned, from the module proxy into GOPATH/bin when missing or of another
# version; it checks the whole module.
staticcheck_version=v0.8.2
if ! staticcheck -version 2>/dev/null | grep -q "(${staticcheck_version#v})"; then
	go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
staticcheck ./...

echo "== go test -race"
# Test artifacts (the HTML report's screenshots, whose paths go test -v
# prints) are kept under .test-artifacts/_artifacts/.
mkdir -p .test-artifacts
go test -race -count=1 -timeout 20m -artifacts -outputdir "$PWD/.test-artifacts" ./...

echo "== canary: Argo Rollouts' and Flagger's own code, in modules of their own"
# The root "go test ./..." does not enter nested modules. Argo Rollouts
# v1.10.2 needs Go 1.26.10 or later; GOTOOLCHAIN fetches that Go from the
# module proxy for this module alone.
(cd targets/argo && export GOTOOLCHAIN=go1.27.3 && go vet ./... && go test -race -count=1 -timeout 10m ./...)
(cd targets/flagger && go vet ./... && go test -race -count=1 -timeout 10m ./...)
