package canary

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Handler serves the canary's endpoints:
//
//   - GET /metrics: the Prometheus exposition.
//   - GET /verdict: for Argo Rollouts' web metric. A measured verdict
//     (isolated or leak) is always 200 with the Verdict as JSON, so that
//     "successCondition: result.leaks == 0" decides; Argo counts a non-2xx
//     reply as a measurement error, never as a failure, so 503 is kept for
//     "could not measure" (inconclusive), which consecutiveErrorLimit handles.
//   - POST /flagger/check: a blocking pre-rollout or rollout webhook. 200 when
//     isolated, 409 with the leak in the body, 503 when inconclusive. Flagger
//     halts on anything above 202.
//   - POST /flagger/rollback: 200 once a leak has been seen, which makes
//     Flagger roll back; 412 before, which it reads as "no rollback".
//
// Every answer is a snapshot of what the probes have seen so far, made
// without sending anything, so it comes back in well under a millisecond
// whatever the webhook's timeout.
func (c *Canary) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", c.metricsHandler())
	mux.HandleFunc("GET /verdict", func(w http.ResponseWriter, r *http.Request) {
		v := c.Verdict()
		status := http.StatusOK
		if v.Verdict == inconclusive {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, v)
	})
	mux.HandleFunc("POST /flagger/check", func(w http.ResponseWriter, r *http.Request) {
		hook, err := readHook(r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		v := c.Verdict()
		status := map[verdict]int{isolated: http.StatusOK, leak: http.StatusConflict, inconclusive: http.StatusServiceUnavailable}[v.Verdict]
		writeJSON(w, status, flaggerAnswer{Canary: hook.target(), Verdict: v})
	})
	mux.HandleFunc("POST /flagger/rollback", func(w http.ResponseWriter, r *http.Request) {
		hook, err := readHook(r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		v := c.Verdict()
		status := http.StatusPreconditionFailed
		if v.Leaks > 0 {
			status = http.StatusOK
		}
		writeJSON(w, status, flaggerAnswer{Canary: hook.target(), Verdict: v})
	})
	return mux
}

// flaggerHook is the payload Flagger posts to a webhook.
type flaggerHook struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Phase     string            `json:"phase"`
	Checksum  string            `json:"checksum,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

func (h flaggerHook) target() string {
	if h.Name == "" {
		return ""
	}
	return h.Namespace + "/" + h.Name
}

// flaggerAnswer is the body of a Flagger answer. Flagger shows a failing
// webhook's body in its events, so a leak's summary leads.
type flaggerAnswer struct {
	Canary string `json:"canary,omitempty"`
	Verdict
}

// readHook reads Flagger's payload. An empty body is accepted, so that the
// endpoint can be tried by hand with curl -X POST.
func readHook(r *http.Request) (flaggerHook, error) {
	var h flaggerHook
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return h, fmt.Errorf("reading the webhook payload: %w", err)
	}
	if len(b) == 0 {
		return h, nil
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("the webhook payload is not Flagger's JSON {name, namespace, phase, metadata}: %w", err)
	}
	return h, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
