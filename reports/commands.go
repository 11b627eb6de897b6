package reports

import (
	"strings"
)

// Commands are what a reader runs next, built from the stream's header: the
// run again, and the fuzz search that shrinks the leak to a minimal plan
// which "crosstalk replay" then re-runs. Every report that shows a leak
// offers the same commands.
type Commands struct {
	Rerun, Shrink string
}

func commandsFor(s Summary) Commands {
	spec, target := "SPEC.yaml", ""
	if h := s.Header; h != nil {
		spec = orDefault(h.SpecFile, spec)
		target = h.BaseURL
	}
	args := []string{"-target", spec}
	if target != "" {
		args = append(args, "-url", target)
	}
	rerun := append([]string{"crosstalk", "run"}, args...)
	if s.Header != nil && s.Header.Sync != "" {
		rerun = append(rerun, "-sync", s.Header.Sync)
	}
	rerun = append(rerun, "-stop-on-first")
	shrink := append([]string{"crosstalk", "fuzz"}, args...)
	return Commands{Rerun: shellJoin(rerun), Shrink: shellJoin(shrink) + " && crosstalk replay -plan PLAN.json -n 50"}
}

// shellJoin quotes each argument for a POSIX shell where it needs it, so a
// command copied out of a report runs as shown. Arguments come from the
// stream and are cleaned of control characters first.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(clean(a))
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
