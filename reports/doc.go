// Package reports reads and writes crosstalk's result stream and renders it
// for people and machines.
//
// A run writes a sequence of [harness.Record] values as versioned JSON Lines
// through an [Encoder] (on a [StreamWriter], so a stalled reader never holds
// the run up); any saved stream can be read back with a [Decoder], [ReadAll]
// or [ReadInto]. An [Aggregator] folds records into a [Summary] as they
// arrive, keeping counts and distinct leaks rather than every record, and
// merges several streams; [Summarize] does the same for records in memory.
// A [Reporter] renders the summary: [Text] for terminals, [JSON] for other
// programs, [JUnit] for CI test dashboards, [Markdown] for pull requests,
// [HTML] as a self-contained evidence page, [GitHub] for Actions
// annotations and step summaries, and [SARIF] for code scanning. [Names]
// lists the formats and [ByName] picks one from a flag value.
//
// Reports work from the records alone, so a stream cut off mid-run still
// renders: the summary says what is missing instead of failing.
package reports
