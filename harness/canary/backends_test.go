package canary

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackendAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8081":                      "127.0.0.1:8081",
		" 127.0.0.1:8081 ":                    "127.0.0.1:8081",
		"10.0.0.1:80, 10.0.0.2:8080":          "10.0.0.2:8080", // tried in turn: the last answered
		"10.0.0.1:80 : 10.0.0.3:8080":         "10.0.0.3:8080", // an internal redirect
		"[::1]:9000":                          "[::1]:9000",
		"Web-1.Shop.svc:8080":                 "web-1.shop.svc:8080",
		"unix:/run/app.sock":                  "",
		"backend_group":                       "",
		"http://10.0.0.1:80/":                 "",
		"10.0.0.1:http":                       "",
		"10.0.0.1:080":                        "",
		"10.0.0.1:70000":                      "",
		"[fe80::1%eth0]:80":                   "",
		"-bad-.example:80":                    "",
		"":                                    "",
		`127.0.0.1:1"} 1` + "\n" + `evil{x="`: "",
	} {
		assert.Equal(t, want, backendAddr(in), "%q", in)
	}
}

// However many backends a balancer names, the labels stay bounded: an
// address becomes a label up to maxBackends, and junk is the instance's.
func TestBackendLabelsStayBounded(t *testing.T) {
	s := webmailSpec(t)
	s.BackendHeader = "X-Upstream-Addr"
	cn, err := New(Config{Spec: s, Instances: []string{"http://127.0.0.1:1"}, MaxDuration: time.Second})
	require.NoError(t, err)
	in := cn.inst[0]
	labels := map[string]bool{}
	cn.mu.Lock()
	for i := range 3 * maxBackends {
		labels[cn.backendLabel(in, fmt.Sprintf("10.0.%d.%d:8080", i/256, i%256))] = true
	}
	assert.Equal(t, "10.0.0.0:8080", cn.backendLabel(in, "10.0.0.0:8080"), "a known backend keeps its label")
	assert.Equal(t, in.name, cn.backendLabel(in, "no address at all"))
	assert.Equal(t, in.name, cn.backendLabel(in, ""), "a reply without the header is the instance's")
	cn.mu.Unlock()
	assert.Len(t, labels, maxBackends+1)
	assert.True(t, labels[otherBackend])

	s.BackendHeader = ""
	cn, err = New(Config{Spec: s, Instances: []string{"http://127.0.0.1:1"}, MaxDuration: time.Second})
	require.NoError(t, err)
	cn.mu.Lock()
	defer cn.mu.Unlock()
	assert.Equal(t, cn.inst[0].name, cn.backendLabel(cn.inst[0], "10.0.0.1:80"), "without backend_header no header is read")
}
