package webmail

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
)

// BugOutbox shows a "Sending…" banner with the mail being sent on the inbox,
// and keeps that mail in one slot shared by the whole server instead of in
// the sender's session. Anyone who loads the inbox (HTML or JSON) while
// another user's mail is being sent sees that mail's subject and body, text
// that was meant for its recipient only.
//
// No read alone can show it and no write alone leaks: only a read that lands
// while another user writes does. A hunt that fires reads only, as crosstalk
// run does, never sees it; a plan that mixes a send with reads of the inbox
// does. It is bug class 8 of the design brief (request-scoped state kept in
// shared memory, like the GitHub session mix-up of March 2021) with a write
// as the request whose state escapes.
const BugOutbox Bug = "outbox"

// outboxNote is the mail being sent, as the banner shows it.
type outboxNote struct {
	subject, body string
}

// outboxFront returns the outbox middleware. The slot lives in its closure:
// the state of this variant needs no field of its own in [Server].
func (s *Server) outboxFront() http.HandlerFunc {
	var sending atomic.Pointer[outboxNote] // the defect: one slot, not one per session
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/send" && s.session(r) != nil:
			body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes))
			if err != nil {
				writeJSON(w, http.StatusBadRequest, errorJSON("the body could not be read"))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var c compose
			if json.Unmarshal(body, &c) != nil {
				s.route(w, r)
				return
			}
			n := &outboxNote{subject: c.Subject, body: c.Body}
			sending.Store(n)
			// Handing the mail to the queue takes as long as rendering a
			// page; the banner shows all that time.
			busy(s.work)
			s.route(w, r)
			sending.CompareAndSwap(n, nil)
		case r.Method == http.MethodGet && (r.URL.Path == "/inbox" || r.URL.Path == "/api/inbox"):
			n := sending.Load()
			if n == nil {
				s.route(w, r)
				return
			}
			rec := newRecorder()
			s.route(rec, r)
			resp := rec.finish()
			if resp.status == http.StatusOK {
				resp.body = withBanner(resp.body, r.URL.Path == "/api/inbox", n)
			}
			resp.writeTo(w)
		default:
			s.route(w, r)
		}
	}
}

// withBanner adds the note to an inbox page: a paragraph before </body>, or
// a "sending" member of the JSON object.
func withBanner(page []byte, isJSON bool, n *outboxNote) []byte {
	if isJSON {
		i := bytes.LastIndexByte(page, '}')
		if i < 0 {
			return page
		}
		extra := mustJSON(struct {
			Subject string `json:"subject"`
			Body    string `json:"body"`
		}{n.subject, n.body})
		out := append([]byte(nil), page[:i]...)
		out = append(out, `,"sending":`...)
		out = append(out, extra...)
		return append(out, page[i:]...)
	}
	banner := []byte(`<p class="sending">Sending “` + escape(n.subject) + `”: ` + escape(n.body) + "</p>\n")
	i := bytes.LastIndex(page, []byte("</body>"))
	if i < 0 {
		return append(append([]byte(nil), page...), banner...)
	}
	out := append([]byte(nil), page[:i]...)
	out = append(out, banner...)
	return append(out, page[i:]...)
}
