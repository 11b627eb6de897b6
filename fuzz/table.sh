#!/usr/bin/env bash
# Makes the table "Every webmail bug, fuzzed and replayed" of fuzz/README.md:
# for each webmail bug, fuzz on a newly started server, then replay -n 50 in
# a new process against another newly started server. When fuzz reports a
# persistent leak without a reset, the bug is fuzzed again with the reset
# spec (webmail-reset.yaml) on a new server, and replayed with it.
#
#   bash fuzz/table.sh                 # every bug, the defaults below
#   BUDGET=30s bash fuzz/table.sh pool lastlogin
#
# It needs jq. Ports 18400 and up on 127.0.0.1. Everything it writes goes to
# a temporary directory, printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

BUDGET=${BUDGET:-60s}
MEASURE=${MEASURE:-50}
REPLAYS=${REPLAYS:-50}
SEED=${SEED:-1}
bugs=("$@")
if [ ${#bugs[@]} -eq 0 ]; then
	bugs=(lastlogin outbox cachekey microcache pool conndesync sessionmix afterreturn loopvar)
fi
command -v jq >/dev/null || { echo "fuzz/table.sh needs jq" >&2; exit 2; }

out=$(mktemp -d)
go build -o "$out/crosstalk" ./cmd/crosstalk
ct="$out/crosstalk"
port=18400
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# serve BUG starts a new server on the next port and sets url once it
# answers.
serve() {
	port=$((port + 1))
	"$ct" serve -bug "$1" -addr "127.0.0.1:$port" -reset-token tok >"$out/serve-$port.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			url="http://127.0.0.1:$port"
			return
		fi
		sleep 0.1
	done
	echo "serve -bug $1 did not start" >&2
	exit 2
}

# stopall stops every server started so far.
stopall() {
	cleanup
	pids=()
}

# steps PLAN describes a plan's bursts: "user3 profile + user5 profile | ...".
steps() {
	jq -r '[.plan.bursts[] | [.steps[] | .user + " " + .request + (if .cancel_after_ns then " (cancel " + (.cancel_after_ns/1000|floor|tostring) + " µs)" else "" end)] | join(" + ")] | join(" → ")' "$1"
}

export WEBMAIL_RESET_TOKEN=tok
echo "| bug | minimal plan | fuzz's rate (95% interval) | fresh \`replay -n $REPLAYS\` | shrink time (runs) |"
echo "|---|---|---|---|---|"
for bug in "${bugs[@]}"; do
	spec=targets/webmail/webmail.yaml
	note=""
	serve "$bug"
	plan="$out/$bug.json"
	log="$out/$bug.fuzz.txt"
	"$ct" fuzz -target "$spec" -url "$url" -seed "$SEED" -dir "" -o "$plan" -budget "$BUDGET" -measure "$MEASURE" -yield=false >"$log" 2>&1 || true
	stopall
	if grep -q "the leak is persistent" "$log" && ! grep -q "shrunk to" "$log"; then
		began=$(grep -o 'the damage began during executions\? [0-9]\+\( to [0-9]\+\)\?' "$log" | head -1 || true)
		note="without a reset: persistent ($began), no minimal plan; with the reset: "
		spec=targets/webmail/webmail-reset.yaml
		serve "$bug"
		log="$out/$bug.fuzz-reset.txt"
		"$ct" fuzz -target "$spec" -url "$url" -seed "$SEED" -dir "" -o "$plan" -budget "$BUDGET" -measure "$MEASURE" -yield=false >"$log" 2>&1 || true
		stopall
	fi
	if ! grep -q "shrunk to" "$log"; then
		why=$(grep -m1 -v -E '^(fuzz:|each execution:|saved plans:|$)' "$log" | cut -c1-160 || true)
		echo "| $bug | ${note}none: ${why:-fuzz found no leak} | — | — | — |"
		continue
	fi
	shape=$(grep -o 'shrunk to [0-9]\+ steps in [0-9]\+ bursts' "$log" | head -1 | sed 's/shrunk to //')
	shrink=$(grep -o 'in [0-9.]\+m\?s ([0-9]\+ runs)' "$log" | head -1 | sed 's/^in //')
	rate=$(grep -o 'the minimal plan reproduced in [0-9]\+ of [0-9]\+ runs ([0-9]\+%, 95% interval [0-9]\+–[0-9]\+%)' "$log" | head -1 | sed 's/the minimal plan reproduced in //')
	kind=$(grep -o 'the leak is \(transient\|persistent\)' "$log" | head -1 | sed 's/the leak is //')
	serve "$bug"
	rlog="$out/$bug.replay.txt"
	"$ct" replay -plan "$plan" -target "$spec" -url "$url" -n "$REPLAYS" -yield=false >"$rlog" 2>&1 || true
	stopall
	replay=$(grep -o 'reproduced in [0-9]\+ of [0-9]\+ runs: [0-9]\+% (95% interval [0-9]\+–[0-9]\+%)' "$rlog" | head -1 | sed 's/reproduced in //')
	echo "| $bug | ${note}$shape, $kind: $(steps "$plan") | $rate | ${replay:-$(grep -m1 '^crosstalk' "$rlog" | cut -c1-120)} | $shrink |"
done
echo
echo "logs and plans: $out (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
