package harness

import "time"

// SyncBarrier is the default sync strategy: one goroutine per step, released
// together. Strategies are selected by name so that plans and reports can say
// which one ran; [Strategies] lists them.
const SyncBarrier = "barrier"

// SyncLastByte names the last-byte strategy: HTTP/1.1, every request written
// except its final byte before the release, the final bytes written together.
const SyncLastByte = "lastbyte"

// SyncH2 names the HTTP/2 single-packet strategy.
const SyncH2 = "h2"

// SyncAuto picks a strategy by calibrating on the target: a few bursts with
// each, and the one with the tightest measured spread wins.
const SyncAuto = "auto"

// strategy releases a prepared burst and returns the release time. Every
// shot with a connection must have sent its request, read its reply and
// filled its exchange (see exchange.go) by the time it returns.
type strategy struct {
	name string
	fire func(shots []*shot, timeout time.Duration, maxBody int64) time.Time
}

// strategies is every sync strategy, from the baseline to the tightest
// release on a real network. Everything that lists strategies ranges over
// it: option checks, help texts, the bench, fuzz's choice of a strategy for
// a minimal plan (the first listed wins a tie) and auto, which calibrates
// them last to first so that a tie goes to the single packet, the one that
// degrades least over a real network. Adding a strategy is adding a line
// here and a file strategy_<name>.go with its fire function.
var strategies = []strategy{
	{SyncBarrier, fireBarrier},
	{SyncLastByte, fireLastByte},
	{SyncH2, fireH2},
}

// strategyNamed finds a strategy by name, or nil.
func strategyNamed(name string) *strategy {
	for i := range strategies {
		if strategies[i].name == name {
			return &strategies[i]
		}
	}
	return nil
}

// Strategies lists the sync strategy names, in the order of [strategies].
func Strategies() []string {
	names := make([]string, len(strategies))
	for i, st := range strategies {
		names[i] = st.name
	}
	return names
}

// SyncNames lists every value -sync accepts: the strategies and "auto".
func SyncNames() []string {
	return append(Strategies(), SyncAuto)
}
