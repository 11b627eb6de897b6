package canary

import (
	"context"
	"net/http"
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

// A backend header is the target's to fill and its address becomes a
// Prometheus label: any value gives an address or nothing, never a panic,
// and an address reads back as itself.
func FuzzBackendAddr(f *testing.F) {
	f.Add("127.0.0.1:8081")
	f.Add("10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:8080")
	f.Add("[::1]:9000")
	f.Add("unix:/run/app.sock")
	f.Add("web-7f9c.shop.svc:8080")
	f.Add("backend_group")
	f.Add(`"><script>:1`)
	f.Fuzz(func(t *testing.T, v string) {
		a := backendAddr(v)
		if a == "" {
			return
		}
		if len(a) > 253+8 || strings.ContainsAny(a, " \t\r\n\",{}=") {
			t.Fatalf("label %q from %q is no address", a, v)
		}
		if b := backendAddr(a); b != a {
			t.Fatalf("%q reads back as %q", a, b)
		}
	})
}

// The rollout process reads its parent's lines: any input gets answers of
// the protocol's kinds, one per non-empty line, and never a panic.
func FuzzServeRollouts(f *testing.F) {
	f.Add("{\"Mode\":\"per instance\",\"Share\":0.5}\nstart\nclose\n")
	f.Add("{\"Correct\":2,\"H2\":true}\nclose\n{\"Mode\":\"through the balancer\",\"Share\":1}\nstart\n")
	f.Add("{\"Share\":0.0001,\"Mode\":\"per instance\"}\n{\"Correct\":1000000}\n")
	f.Add("start\n{\nclose\n\n{\"Mode\":\"sideways\",\"Share\":0.5}\n")
	build := func(bool) (http.Handler, func(), error) { return http.NotFoundHandler(), func() {}, nil }
	f.Fuzz(func(t *testing.T, in string) {
		var out strings.Builder
		if err := ServeRollouts(build, strings.NewReader(in), &out); err != nil {
			// A line too long for the scanner is the only way to fail.
			return
		}
		asked := 0
		for _, l := range strings.Split(in, "\n") {
			if strings.TrimSpace(l) != "" {
				asked++
			}
		}
		answers := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if out.Len() == 0 {
			answers = nil
		}
		if len(answers) != asked {
			t.Fatalf("%d answers to %d lines: %q", len(answers), asked, out.String())
		}
		for _, a := range answers {
			if a != startedLine && a != closedLine && !strings.HasPrefix(a, errorPrefix) && !strings.HasPrefix(a, "[") {
				t.Fatalf("answer %q is none of the protocol's", a)
			}
		}
	})
}
