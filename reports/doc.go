// Package reports reads and writes crosstalk's result stream and renders it
// for people and machines.
//
// A run writes a sequence of [harness.Record] values as versioned JSON Lines
// through an [Encoder]; any saved stream can be read back with a [Decoder] or
// [ReadAll], condensed by [Summarize] into a [Summary], and rendered by a
// [Reporter]: [Text] for terminals, [Markdown] for GitHub step summaries,
// [JUnit] for CI test dashboards and [JSON] for other programs. [ByName] picks
// a reporter from a command-line flag value.
//
// Reports work from the records alone, so a stream cut off mid-run still
// renders: the summary says what is missing instead of failing.
package reports
