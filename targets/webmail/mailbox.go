package webmail

import (
	"encoding/json"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxMailbox bounds a mailbox under a long load test that keeps sending: the
// oldest messages are expunged first, as a quota would.
const maxMailbox = 500

// Limits on composed mail.
const (
	maxSubjectBytes = 998 // the longest line RFC 5322 allows
	maxBodyBytes    = 64 << 10
)

type attachment struct {
	name  string
	ctype string
	data  []byte
	// disposition is the Content-Disposition value, quoted once at delivery.
	disposition string
}

// message is immutable once delivered, so handlers may keep using it after
// they release Server.mu. Everything a response needs is rendered at delivery:
// mail is read far more often than it is written.
type message struct {
	id                 uint64
	from, to           string
	subject, body      string
	date               time.Time
	atts               []attachment
	viewHTML, viewJSON []byte // whole responses
	rowHTML, rowJSON   []byte // the message's entry in the inbox
	subjectHTML        string
	snippetHTML        string
}

// mailbox is one user's mail, oldest first, with the pages that list it.
// Server.mu guards it; the byte slices are replaced, never changed, so a
// handler may write them after releasing the lock.
type mailbox struct {
	next        uint64
	msgs        []*message
	inboxHTML   []byte
	inboxJSON   []byte
	summaryHTML []byte
}

func (mb *mailbox) find(id uint64) *message {
	i := sort.Search(len(mb.msgs), func(i int) bool { return mb.msgs[i].id >= id })
	if i < len(mb.msgs) && mb.msgs[i].id == id {
		return mb.msgs[i]
	}
	return nil
}

// deliver puts a message into a's mailbox.
func (s *Server) deliver(a *account, d draft) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliverLocked(a, d)
}

// deliverLocked is deliver for callers that hold s.mu, or that own s alone
// because New has not returned it yet.
func (s *Server) deliverLocked(a *account, d draft) {
	mb := &a.mbox
	mb.next++
	m := &message{
		id: mb.next, from: d.from, to: a.Email, subject: d.subject, body: d.body,
		date: d.date, atts: d.atts,
	}
	for i := range m.atts {
		at := &m.atts[i]
		at.disposition = mime.FormatMediaType("attachment", map[string]string{"filename": at.name})
	}
	renderMessage(a, m)
	mb.msgs = append(mb.msgs, m)
	if len(mb.msgs) > maxMailbox {
		mb.msgs[0] = nil
		mb.msgs = append(mb.msgs[:0], mb.msgs[1:]...)
	}
	renderMailbox(a)
}

type attachmentJSON struct {
	N           int    `json:"n"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
}

type messageJSON struct {
	ID          uint64           `json:"id"`
	From        string           `json:"from"`
	To          string           `json:"to"`
	Subject     string           `json:"subject"`
	Date        string           `json:"date"`
	Body        string           `json:"body"`
	Attachments []attachmentJSON `json:"attachments"`
}

type rowJSON struct {
	ID          uint64 `json:"id"`
	From        string `json:"from"`
	Subject     string `json:"subject"`
	Snippet     string `json:"snippet"`
	Date        string `json:"date"`
	Attachments int    `json:"attachments"`
}

// renderMessage fills in the rendered forms of m.
func renderMessage(a *account, m *message) {
	m.subjectHTML = escape(m.subject)
	m.snippetHTML = escape(snippet(m.body))
	id := strconv.FormatUint(m.id, 10)
	date := m.date.UTC().Format(time.RFC3339)

	mj := messageJSON{ID: m.id, From: m.from, To: m.to, Subject: m.subject, Date: date, Body: m.body,
		Attachments: make([]attachmentJSON, len(m.atts))}
	for i, at := range m.atts {
		mj.Attachments[i] = attachmentJSON{N: i + 1, Name: at.name, ContentType: at.ctype, Size: len(at.data)}
	}
	m.viewJSON = mustJSON(mj)
	m.rowJSON = mustJSON(rowJSON{ID: m.id, From: m.from, Subject: m.subject, Snippet: snippet(m.body),
		Date: date, Attachments: len(m.atts)})

	var b []byte
	b = append(b, "<tr><td>"...)
	b = append(b, escape(m.from)...)
	b = append(b, "</td><td><a href=\"/messages/"...)
	b = append(b, id...)
	b = append(b, "\">"...)
	b = append(b, m.subjectHTML...)
	b = append(b, "</a><br><small>"...)
	b = append(b, m.snippetHTML...)
	b = append(b, "</small></td><td>"...)
	b = append(b, m.date.UTC().Format(timeLayout)...)
	b = append(b, "</td><td>"...)
	b = strconv.AppendInt(b, int64(len(m.atts)), 10)
	b = append(b, "</td></tr>\n"...)
	m.rowHTML = b

	b = appendHead(nil, m.subjectHTML)
	b = append(b, "<article>\n<h1>"...)
	b = append(b, m.subjectHTML...)
	b = append(b, "</h1>\n<dl><dt>From</dt><dd>"...)
	b = append(b, escape(m.from)...)
	b = append(b, "</dd><dt>To</dt><dd>"...)
	b = append(b, a.nameHTML...)
	b = append(b, " &lt;"...)
	b = append(b, a.emailHTML...)
	b = append(b, "&gt;</dd><dt>Date</dt><dd>"...)
	b = append(b, m.date.UTC().Format(timeLayout)...)
	b = append(b, "</dd></dl>\n<pre class=\"body\">"...)
	b = append(b, escape(m.body)...)
	b = append(b, "</pre>\n"...)
	if len(m.atts) > 0 {
		b = append(b, "<h2>Attachments</h2>\n<ul>\n"...)
		for i, at := range m.atts {
			b = append(b, "<li><a href=\"/messages/"...)
			b = append(b, id...)
			b = append(b, "/attachments/"...)
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, "\">"...)
			b = append(b, escape(at.name)...)
			b = append(b, "</a> ("...)
			b = strconv.AppendInt(b, int64(len(at.data)), 10)
			b = append(b, " bytes)</li>\n"...)
		}
		b = append(b, "</ul>\n"...)
	}
	b = append(b, "</article>\n"...)
	b = append(b, pageFoot...)
	m.viewHTML = b
}

// renderMailbox rebuilds the inbox page, the inbox JSON and the profile's
// mailbox summary of a, newest message first.
func renderMailbox(a *account) {
	mb := &a.mbox

	j := append([]byte(nil), `{"user":`...)
	j = append(j, mustJSON(a.Login)...)
	j = append(j, `,"messages":[`...)
	for i := len(mb.msgs) - 1; i >= 0; i-- {
		if i != len(mb.msgs)-1 {
			j = append(j, ',')
		}
		j = append(j, mb.msgs[i].rowJSON...)
	}
	j = append(j, "]}"...)
	mb.inboxJSON = j

	h := appendHead(nil, "Inbox")
	h = append(h, "<h1>Inbox</h1>\n<p class=\"owner\">"...)
	h = append(h, a.nameHTML...)
	h = append(h, " &lt;"...)
	h = append(h, a.emailHTML...)
	h = append(h, "&gt; · "...)
	h = strconv.AppendInt(h, int64(len(mb.msgs)), 10)
	h = append(h, " messages</p>\n<table>\n<tr><th>From</th><th>Subject</th><th>Date</th><th>Attachments</th></tr>\n"...)
	for i := len(mb.msgs) - 1; i >= 0; i-- {
		h = append(h, mb.msgs[i].rowHTML...)
	}
	h = append(h, "</table>\n"...)
	h = append(h, pageFoot...)
	mb.inboxHTML = h

	sm := append([]byte(nil), "<section class=\"mailbox\">\n<h2>Your mailbox</h2>\n<p>"...)
	sm = strconv.AppendInt(sm, int64(len(mb.msgs)), 10)
	sm = append(sm, " messages. Most recent:</p>\n<ul>\n"...)
	for i, k := len(mb.msgs)-1, 0; i >= 0 && k < 3; i, k = i-1, k+1 {
		sm = append(sm, "<li>"...)
		sm = append(sm, mb.msgs[i].subjectHTML...)
		sm = append(sm, " <small>"...)
		sm = append(sm, mb.msgs[i].snippetHTML...)
		sm = append(sm, "</small></li>\n"...)
	}
	sm = append(sm, "</ul>\n</section>\n"...)
	mb.summaryHTML = sm
}

// snippet is the start of a body on one line, as an inbox shows it.
func snippet(body string) string {
	const max = 80
	s := strings.Join(strings.Fields(body), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// mustJSON marshals values built here from strings and numbers, which cannot
// fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`null`)
	}
	return b
}

func (s *Server) inboxHTML(w http.ResponseWriter, ss *session) {
	s.mu.RLock()
	page := ss.v.acct.mbox.inboxHTML
	s.mu.RUnlock()
	writeHTML(w, http.StatusOK, page)
}

func (s *Server) inboxJSON(w http.ResponseWriter, ss *session) {
	s.mu.RLock()
	body := ss.v.acct.mbox.inboxJSON
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, body)
}

// lookup finds message id in the session's own mailbox. Ids count per user,
// so every user has a message 1: the id alone must never pick a mailbox.
func (s *Server) lookup(ss *session, id uint64) *message {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return ss.v.acct.mbox.find(id)
}

func (s *Server) messageHTML(w http.ResponseWriter, ss *session, id uint64) {
	m := s.lookup(ss, id)
	if m == nil {
		notFoundHTML(w)
		return
	}
	writeHTML(w, http.StatusOK, m.viewHTML)
}

func (s *Server) messageJSON(w http.ResponseWriter, ss *session, id uint64) {
	m := s.lookup(ss, id)
	if m == nil {
		notFoundJSON(w)
		return
	}
	writeJSON(w, http.StatusOK, m.viewJSON)
}

func (s *Server) attachment(w http.ResponseWriter, ss *session, id, n uint64) {
	m := s.lookup(ss, id)
	if m == nil || n > uint64(len(m.atts)) {
		notFoundHTML(w)
		return
	}
	at := &m.atts[n-1]
	h := w.Header()
	h["Content-Type"] = []string{at.ctype}
	h["Content-Disposition"] = []string{at.disposition}
	h["Content-Length"] = []string{strconv.Itoa(len(at.data))}
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(at.data)
}

// compose is a message as a sender submits it, by form or JSON.
type compose struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// check validates c and finds its recipient, by email or by login. It returns
// a message for the sender when c cannot be sent.
func (s *Server) check(c *compose) (*account, string) {
	to := strings.ToLower(strings.TrimSpace(c.To))
	rcpt := s.byEmail[to]
	if rcpt == nil {
		rcpt = s.byLogin[to]
	}
	switch {
	case rcpt == nil:
		return nil, "unknown recipient"
	case len(c.Subject) > maxSubjectBytes:
		return nil, "subject too long"
	case len(c.Body) > maxBodyBytes:
		return nil, "body too long"
	case !utf8.ValidString(c.Subject) || !utf8.ValidString(c.Body):
		return nil, "subject and body must be UTF-8"
	}
	// A subject is one header line: folding it keeps a CR or LF from the
	// sender out of every listing.
	c.Subject = strings.Join(strings.Fields(c.Subject), " ")
	if c.Subject == "" {
		c.Subject = "(no subject)"
	}
	return rcpt, ""
}

func (s *Server) composeForm(w http.ResponseWriter, r *http.Request, ss *session) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeHTML(w, http.StatusBadRequest, composePage(ss.v.acct, "the form could not be read"))
		return
	}
	c := compose{To: r.PostFormValue("to"), Subject: r.PostFormValue("subject"), Body: r.PostFormValue("body")}
	rcpt, problem := s.check(&c)
	if rcpt == nil {
		writeHTML(w, http.StatusBadRequest, composePage(ss.v.acct, problem))
		return
	}
	s.submit(rcpt, draft{from: ss.v.acct.Email, subject: c.Subject, body: c.Body, date: time.Now()})
	redirect(w, "/inbox")
}

func (s *Server) sendJSON(w http.ResponseWriter, r *http.Request, ss *session) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	var c compose
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		writeJSON(w, http.StatusBadRequest, errorJSON("the body is not a JSON object with to, subject and body"))
		return
	}
	rcpt, problem := s.check(&c)
	if rcpt == nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorJSON(problem))
		return
	}
	s.submit(rcpt, draft{from: ss.v.acct.Email, subject: c.Subject, body: c.Body, date: time.Now()})
	writeJSON(w, http.StatusOK, sentJSON)
}

var sentJSON = []byte(`{"sent":true}`)

func errorJSON(msg string) []byte {
	return mustJSON(struct {
		Error string `json:"error"`
	}{msg})
}
