package webmail

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchEndpoint(t *testing.T) {
	for _, bug := range []Bug{BugNone, BugLoopVar} {
		t.Run(string(bug), func(t *testing.T) {
			e := newEnv(t, Options{Bug: bug, Users: 2})
			users := e.srv.Users()
			sid := e.login(users[0])

			r := e.get("/api/batch?ids=3,1,99", sid)
			require.Equal(t, http.StatusOK, r.status, r.body)
			var d struct {
				User     string `json:"user"`
				Messages []struct {
					ID int    `json:"id"`
					To string `json:"to"`
				} `json:"messages"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.body), &d))
			assert.Equal(t, users[0].Login, d.User)
			require.Len(t, d.Messages, 2, "the missing id 99 is left out")
			assert.Equal(t, 3, d.Messages[0].ID, "in the order asked")
			assert.Equal(t, 1, d.Messages[1].ID)
			assert.Equal(t, users[0].Email, d.Messages[0].To)
			assert.NotContains(t, r.body, users[1].Email)

			for _, bad := range []string{"", "ids=", "ids=1,x", "ids=0", "ids=1,,2", "ids=" + strings.Repeat("1,", 50) + "1"} {
				r := e.get("/api/batch?"+bad, sid)
				assert.Equal(t, http.StatusBadRequest, r.status, bad)
			}
			assert.Equal(t, http.StatusUnauthorized, e.get("/api/batch?ids=1", "").status)
			assert.Equal(t, http.StatusMethodNotAllowed, e.must("POST", "/api/batch?ids=1", sid, "", "").status)
		})
	}
}

// Each variant is a defect of its own and nothing else: one user on its
// own, one request at a time, sees only its own pages in every mode.
func TestEveryModeServesALoneUserCorrectly(t *testing.T) {
	for _, bug := range Bugs() {
		t.Run(string(bug), func(t *testing.T) {
			e := newEnv(t, Options{Bug: bug, Users: 2})
			users := e.srv.Users()
			sid := e.login(users[0])
			for _, p := range []string{"/profile", "/inbox", "/api/inbox", "/messages/1", "/api/messages/2", "/api/batch?ids=1,2"} {
				r := e.get(p, sid)
				require.Equal(t, http.StatusOK, r.status, p)
				assert.NotContains(t, owners(users, r.body), 1, p)
				assert.NotContains(t, r.body, users[1].Email, p)
			}
		})
	}
}
