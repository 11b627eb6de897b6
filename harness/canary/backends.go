package canary

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Probing through a load balancer, the instance the canary sends to is the
// balancer, and the backend that served each response is only known if the
// balancer says so in a response header (the spec's backend_header, such as
// nginx's "add_header X-Upstream-Addr $upstream_addr always"). Findings are
// then attributed to that backend. The header is the target's to fill, and
// its value becomes a Prometheus label, so only an address makes a label,
// and only so many.

// maxBackends bounds the backend labels a canary makes from backend headers,
// over all instances; beyond it, backends share the label otherBackend.
const maxBackends = 64

const otherBackend = "other"

// backendAddr is the address that served, from a backend header's value as
// nginx's $upstream_addr writes it: "host:port"; "a:1, b:2" when servers
// were tried in turn (the last one answered); " : " between the groups of an
// internal redirect. It is "" for anything else: a group name, a unix
// socket, a URL or junk are no instance address.
func backendAddr(v string) string {
	if i := strings.LastIndex(v, ","); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.LastIndex(v, " : "); i >= 0 {
		v = v[i+3:]
	}
	host, port, err := net.SplitHostPort(strings.TrimSpace(v))
	if err != nil {
		return ""
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
		return ""
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return ""
		}
		return net.JoinHostPort(a.String(), port)
	}
	if !hostName(host) {
		return ""
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// hostName reports whether h is a DNS name: letters, digits and hyphens in
// dot-separated labels of at most 63, at most 253 in all.
func hostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// backendLabel names the backend that served a response of in, from the
// backend header's value: its address where the spec names a header and the
// header holds one, else the instance itself, as when probing an instance
// directly. The caller holds c.mu.
func (c *Canary) backendLabel(in *instance, header string) string {
	if c.cfg.Spec.BackendHeader == "" {
		return in.name
	}
	a := backendAddr(header)
	switch {
	case a == "":
		return in.name
	case slices.Contains(c.backendSeen, a):
		return a
	case len(c.backendSeen) >= maxBackends:
		return otherBackend
	}
	c.backendSeen = append(c.backendSeen, a)
	c.metrics.newBackend(a)
	return a
}

// BackendCount is what one backend served an instance's probes, where a
// balancer named it.
type BackendCount struct {
	Backend   string `json:"backend"`
	Responses int    `json:"responses"`
	Leaks     int    `json:"leaks"`
}

// backendCounts lists in's backends in order. The caller holds c.mu.
func (in *instance) backendCounts() []BackendCount {
	var out []BackendCount
	for b, n := range in.served {
		out = append(out, BackendCount{Backend: b, Responses: n, Leaks: in.backendLeaks[b]})
	}
	for b, n := range in.backendLeaks {
		if _, ok := in.served[b]; !ok {
			out = append(out, BackendCount{Backend: b, Leaks: n})
		}
	}
	slices.SortFunc(out, func(a, b BackendCount) int { return strings.Compare(a.Backend, b.Backend) })
	return out
}
