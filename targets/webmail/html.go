package webmail

import (
	"html"
	"net/http"
	"strconv"
)

// Pages are put together by appending pre-escaped pieces rather than through
// html/template: the handlers run hundreds of thousands of times in a load
// test, and every value that comes from a user passes through [escape] once,
// when it is stored.

// timeLayout is how pages show times.
const timeLayout = "2006-01-02 15:04:05 MST"

func escape(s string) string { return html.EscapeString(s) }

const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>`

const pageNav = ` · Webmail</title></head>
<body>
<nav><a href="/inbox">Inbox</a> <a href="/compose">Compose</a> <a href="/profile">Profile</a>
<form method="post" action="/logout"><button>Log out</button></form></nav>
<main>
`

const pageFoot = `</main>
</body></html>
`

// appendHead starts a signed-in page; title must be HTML already.
func appendHead(b []byte, title string) []byte {
	b = append(b, pageHead...)
	b = append(b, title...)
	return append(b, pageNav...)
}

// The pages of a signed-out visitor never change.
var (
	loginPage       = loginForm("")
	loginFailedPage = loginForm("invalid login or password")
	badRequestPage  = simplePage("Bad request", "The request could not be read.")
	notFoundPage    = simplePage("Not found", "There is nothing here.")
)

func loginForm(problem string) []byte {
	b := []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Webmail</title></head>
<body><main>
<h1>Sign in</h1>
`)
	if problem != "" {
		b = append(b, `<p class="error">`...)
		b = append(b, escape(problem)...)
		b = append(b, "</p>\n"...)
	}
	b = append(b, `<form method="post" action="/login">
<label>Login <input name="login" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button>Sign in</button>
</form>
`...)
	return append(b, pageFoot...)
}

func simplePage(title, text string) []byte {
	b := []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>`)
	b = append(b, escape(title)...)
	b = append(b, " · Webmail</title></head>\n<body><main>\n<h1>"...)
	b = append(b, escape(title)...)
	b = append(b, "</h1>\n<p>"...)
	b = append(b, escape(text)...)
	b = append(b, "</p>\n"...)
	return append(b, pageFoot...)
}

// composePage is the form for writing mail, with a problem to show when the
// last attempt failed.
func composePage(a *account, problem string) []byte {
	b := appendHead(nil, "Compose")
	b = append(b, "<h1>New message</h1>\n<p>From "...)
	b = append(b, a.nameHTML...)
	b = append(b, " &lt;"...)
	b = append(b, a.emailHTML...)
	b = append(b, "&gt;</p>\n"...)
	if problem != "" {
		b = append(b, `<p class="error">`...)
		b = append(b, escape(problem)...)
		b = append(b, "</p>\n"...)
	}
	b = append(b, `<form method="post" action="/compose">
<label>To <input name="to" type="email"></label>
<label>Subject <input name="subject"></label>
<textarea name="body" rows="12" cols="72"></textarea>
<button>Send</button>
</form>
`...)
	return append(b, pageFoot...)
}

// lastLoginHTML is the profile's line about the login before this session's.
func lastLoginHTML(l loginRecord) string {
	return escape("Last login: " + l.at.UTC().Format(timeLayout) + " from " + l.ip)
}

// Header values shared by every response. net/http only reads them.
var (
	htmlType = []string{"text/html; charset=utf-8"}
	jsonType = []string{"application/json"}
	noStore  = []string{"no-store"}
	noSniff  = []string{"nosniff"}
)

// writeHTML sends a whole page. Every page is private to its user, so none may
// be stored by a cache.
func writeHTML(w http.ResponseWriter, status int, page []byte) {
	writeBody(w, status, htmlType, page)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	writeBody(w, status, jsonType, body)
}

func writeBody(w http.ResponseWriter, status int, ctype []string, body []byte) {
	h := w.Header()
	h["Content-Type"] = ctype
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// redirect answers 303 See Other, so that a POST is followed by a GET.
func redirect(w http.ResponseWriter, to string) {
	h := w.Header()
	h["Location"] = []string{to}
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusSeeOther)
}

var (
	errUnauthorized = []byte(`{"error":"unauthorized"}`)
	errNotFound     = []byte(`{"error":"not found"}`)
)

func notFoundHTML(w http.ResponseWriter) { writeHTML(w, http.StatusNotFound, notFoundPage) }

func notFoundJSON(w http.ResponseWriter) { writeJSON(w, http.StatusNotFound, errNotFound) }

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header()["Allow"] = []string{allow}
	writeBody(w, http.StatusMethodNotAllowed, []string{"text/plain; charset=utf-8"}, []byte("method not allowed\n"))
}
