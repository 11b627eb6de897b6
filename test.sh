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

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...
