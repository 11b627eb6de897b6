// Package incident reads access logs and answers who saw whose data, the
// third job of crosstalk after finding a leak and shrinking it.
//
// The flow is the engine's, on recorded traffic instead of fired bursts:
// log lines (JSON lines, combined, HAR 1.2, streamed, gzip or not) are
// parsed into an [Entry] each; an [Analyzer] keeps per-user and per-pair
// state (never the lines, so memory follows users and owners) and turns it
// into a [Partial]; [Finalize] draws the [Report]: exact viewer → owner
// pairs from direct evidence, upper bounds from a leak [Model], the court's
// classification of every user, the flags, the timeline and the leak
// windows a plan is derived from ([DerivePlan]). Partials of shards
// [Merge] into exactly the single pass's. [Synthesize] writes the 2008
// incident with its ground truth.
//
// The package never parses flags or exits; cmd/crosstalk's incident.go does.
package incident
