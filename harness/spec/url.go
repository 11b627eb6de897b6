package spec

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// RedactURL returns raw without its user info ("user:password@"), for any
// text a person or a file will see. It works on strings that do not parse
// as URLs too, since those end up in error messages.
func RedactURL(raw string) string {
	scheme := strings.Index(raw, "://")
	if scheme < 0 {
		return raw
	}
	rest := raw[scheme+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	return raw[:scheme+3] + rest[at+1:]
}

// HasUserinfo reports whether raw carries a user name or password.
func HasUserinfo(raw string) bool { return RedactURL(raw) != raw }

// Rebase points the spec at the URL raw, as the commands' -url flag does: one
// spec then serves staging and production alike. raw must be an absolute
// http or https URL. Its query, which a base URL cannot carry on the wire, is
// added to every request path (login, seed and requests), so a gateway that
// wants "?env=blue" on every request gets it. A user name or password in raw
// is dropped: requests never carried it, and it must not reach the streams,
// reports and plan files that show the base URL. Errors are [*Error]s for the
// field "-url" and show raw without its user info.
func (s *Spec) Rebase(raw string) error {
	shown := RedactURL(raw)
	bad := func(format string, a ...any) error {
		return &Error{Field: "-url", Msg: fmt.Sprintf(format, a...)}
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return bad("%q is not a URL: %v", shown, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("%q must be an absolute http:// or https:// URL", shown)
	}
	if u.Fragment != "" {
		return bad("%q must not have a fragment", shown)
	}
	if strings.Contains(u.RawQuery, "{{") {
		return bad("%q: a query given with -url is sent as it is and cannot hold templates; put those in the request paths", shown)
	}
	query := u.RawQuery
	u.User, u.RawQuery, u.ForceQuery = nil, "", false
	s.BaseURL = strings.TrimRight(u.String(), "/")
	if query == "" {
		return nil
	}
	if s.Login.Path != "" {
		s.Login.Path = addQuery(s.Login.Path, query)
	}
	for _, rs := range [][]Request{s.Seed, s.Requests} {
		for i := range rs {
			rs[i].Path = addQuery(rs[i].Path, query)
		}
	}
	return nil
}

// addQuery appends query to a request path that may have a query already.
func addQuery(path, query string) string {
	if strings.Contains(path, "?") {
		return path + "&" + query
	}
	return path + "?" + query
}
