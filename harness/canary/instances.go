package canary

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// Resolver looks host names up; *net.Resolver is one.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// ResolveInstances turns "dns:NAME" or "dns:NAME:PORT" into one base URL per
// address NAME resolves to, the way a Kubernetes headless service lists its
// pods. The scheme, and the port unless given, come from base (the spec's
// base_url). Addresses are sorted, so instance labels are stable between
// restarts.
func ResolveInstances(ctx context.Context, r Resolver, from, base string) ([]string, error) {
	name, ok := strings.CutPrefix(from, "dns:")
	if !ok || name == "" {
		return nil, fmt.Errorf("%w: instances source %q: want dns:NAME or dns:NAME:PORT", ErrConfig, from)
	}
	b, err := url.Parse(base)
	if err != nil || b.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q is not an absolute URL", ErrConfig, base)
	}
	port := b.Port()
	if h, p, err := net.SplitHostPort(name); err == nil {
		name, port = h, p
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[b.Scheme]
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupHost(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("resolving the instances of %s: %w", name, err)
	}
	addrs = slices.Compact(slices.Sorted(slices.Values(addrs)))
	var out []string
	for _, a := range addrs {
		out = append(out, fmt.Sprintf("%s://%s%s", b.Scheme, net.JoinHostPort(a, port), strings.TrimRight(b.Path, "/")))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s resolved to no address", name)
	}
	return out, nil
}
