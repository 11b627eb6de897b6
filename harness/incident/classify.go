package incident

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The per-user classification is drawn in [Finalize]; this file writes it
// as the CSV an operator notifies from.

// UserCSVHeader is the first row of the per-user CSV.
var UserCSVHeader = []string{"user", "category", "requests", "viewed_others", "seen_by_others",
	"seen_kinds_direct", "viewed_kinds_direct", "seen_kinds_bound", "unexplained_leaks", "session_two_addresses",
	"first_request", "last_request"}

// WriteUsersCSV writes one row per user, sorted by user.
func WriteUsersCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(UserCSVHeader); err != nil {
		return err
	}
	for _, u := range r.Users {
		first, last := "", ""
		if u.Requests > 0 {
			first, last = u.First.Format(time.RFC3339Nano), u.Last.Format(time.RFC3339Nano)
		}
		rec := []string{cleanCell(u.User), u.Category, strconv.FormatInt(u.Requests, 10), strconv.FormatInt(u.Viewed, 10),
			strconv.FormatInt(u.SeenBy, 10), strings.Join(u.OwnerKinds, ";"), strings.Join(u.ViewerKinds, ";"),
			strings.Join(u.BoundKinds, ";"), strconv.FormatInt(u.Persistent, 10), strconv.FormatBool(u.TwoAddresses), first, last}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cleanCell keeps a user name from a log safe in a spreadsheet: valid
// UTF-8, and no leading character a spreadsheet would run as a formula.
func cleanCell(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		s = "'" + s
	}
	return s
}
