package webmail

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// BugSessionMix names sessions from the login's second and a counter, and
// bumps the counter with a read and a later write instead of one atomic step.
// Two logins inside the same read-to-write window read the same counter in
// the same second and get the same session id; the later one's session
// replaces the earlier one's under that id, and both browsers now hold a
// cookie for the later user. Logins one after the other always get distinct
// ids.
//
// Public references (bug class 6 of the design brief): Dancer PR #997, session ids
// built from the time and little else, which concurrent processes could
// produce twice; and mongo-go-driver PR #889, session ids handed out twice
// under concurrency. Finding it needs logins that land together.
//
// The counter is an [sync/atomic.Uint64] read with Load and written with
// Store: the lost update is the defect, and keeping each access atomic lets
// the race detector watch it happen instead of stopping the test.
const BugSessionMix Bug = "sessionmix"

// clockCounterID derives a session id from the second and the counter.
func (s *Server) clockCounterID(now time.Time) string {
	n := s.idSeq.Load()
	// Deriving the id (a keyed hash in the original) and registering it take
	// a while; the counter is written back only afterwards.
	busy(s.work)
	s.idSeq.Store(n + 1)
	sum := sha256.Sum256([]byte(strconv.FormatInt(now.Unix(), 10) + "." + strconv.FormatUint(n, 10)))
	return hex.EncodeToString(sum[:16])
}
