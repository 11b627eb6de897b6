package canary

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

// Flagger's payload is parsed from the network: any body gets an answer,
// never a panic.
func FuzzReadHook(f *testing.F) {
	f.Add(`{"name":"web","namespace":"shop","phase":"Progressing","checksum":"abc","metadata":{"k":"v"}}`)
	f.Add(`{"name":"web"}`)
	f.Add(``)
	f.Add(`{"metadata":{"k":1}}`)
	f.Add(`[1,2]`)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/flagger/check", strings.NewReader(body))
		h, err := readHook(r)
		if err == nil && h.Name != "" && !strings.HasSuffix(h.target(), "/"+h.Name) {
			t.Fatalf("target %q does not end in the name %q", h.target(), h.Name)
		}
	})
}

// An instances source is typed by hand: a bad one is an error, never a
// panic, and every instance is an absolute URL.
func FuzzResolveInstances(f *testing.F) {
	f.Add("dns:web.ns.svc", "http://web:8080")
	f.Add("dns:web.ns.svc:9000", "https://web/app")
	f.Add("dns:", "http://x")
	f.Add("dns:[::1]:80", "http://x")
	f.Add("srv:x", "http://x")
	r := fakeResolver{"web.ns.svc": {"127.0.0.1", "::1"}, "::1": {"::1"}}
	f.Fuzz(func(t *testing.T, from, base string) {
		got, err := ResolveInstances(context.Background(), r, from, base)
		if err != nil {
			return
		}
		for _, u := range got {
			if !strings.Contains(u, "://") {
				t.Fatalf("instance %q is not a URL", u)
			}
		}
	})
}
