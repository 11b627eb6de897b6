package webmail

import (
	"net/http"
	"strings"
)

// maxBatchIDs bounds one /api/batch request.
const maxBatchIDs = 50

// batchJSON serves GET /api/batch?ids=1,2,3: the listed messages of the
// caller's own mailbox, as {"user":..., "messages":[...]} in the order asked,
// skipping ids the mailbox does not have. In the loopvar mode the work goes
// through the coalescing dispatcher of bug_loopvar.go.
func (s *Server) batchJSON(w http.ResponseWriter, r *http.Request, ss *session) {
	ids, ok := parseIDList(r.URL.Query().Get("ids"))
	if !ok {
		writeJSON(w, http.StatusBadRequest, errorJSON("ids must be 1 to 50 message ids, separated by commas"))
		return
	}
	var body []byte
	if s.batcher != nil {
		if body = s.coalesceBatch(r, ss.v.acct, ids); body == nil {
			return // the client went away
		}
	} else {
		body = s.renderBatch(ss.v.acct, ids)
	}
	writeJSON(w, http.StatusOK, body)
}

func parseIDList(s string) ([]uint64, bool) {
	if s == "" {
		return nil, false
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxBatchIDs {
		return nil, false
	}
	ids := make([]uint64, 0, len(parts))
	for _, p := range parts {
		id, ok := parseID(p)
		if !ok {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// renderBatch lists a's messages with the given ids.
func (s *Server) renderBatch(a *account, ids []uint64) []byte {
	b := append([]byte(nil), `{"user":`...)
	b = append(b, mustJSON(a.Login)...)
	b = append(b, `,"messages":[`...)
	s.mu.RLock()
	n := 0
	for _, id := range ids {
		if m := a.mbox.find(id); m != nil {
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, m.viewJSON...)
			n++
		}
	}
	s.mu.RUnlock()
	return append(b, "]}"...)
}
