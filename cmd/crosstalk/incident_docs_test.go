package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness/incident"
)

// The README's nginx log_format must give lines that crosstalk incident
// reads with every field it documents: the line is rendered here the way
// nginx renders it, each variable replaced by a value of its kind and an
// empty one by "-".
func TestReadmeNginxLogFormatParses(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile(`log_format crosstalk escape=json '([^']*)';`).FindSubmatch(readme)
	require.NotNil(t, m, "README has the crosstalk log_format")
	values := map[string]string{
		"msec": "1215702600.123", "request_time": "0.004", "request_id": "7f3e2a", "connection": "12",
		"connection_requests": "3", "upstream_addr": "10.0.1.2:8080", "remote_addr": "192.0.2.4",
		"upstream_http_x_user": "alice", "upstream_http_x_session": "9c1f", "request_method": "GET",
		"request_uri": "/profile?x=1", "status": "200", "body_bytes_sent": "5120",
		"upstream_http_x_data_owner": "bob", "upstream_http_x_body_hash": "-",
	}
	line := regexp.MustCompile(`\$[a-z_]+`).ReplaceAllStringFunc(string(m[1]), func(v string) string {
		val, ok := values[v[1:]]
		assert.True(t, ok, "README's log_format uses %s, which this test does not know", v)
		return val
	})
	var e incident.Entry
	require.NoError(t, incident.ParseJSONLine([]byte(line), &e), line)
	assert.Equal(t, "alice", string(e.User))
	assert.Equal(t, "bob", string(e.Owner))
	assert.Equal(t, "/profile", string(e.Path))
	assert.Equal(t, "10.0.1.2:8080", string(e.Instance))
	assert.Equal(t, e.End-4000, e.Start, "start = msec - request_time")
	assert.True(t, strings.Contains(line, `"session":"9c1f"`))
	assert.Equal(t, []byte("9c1f"), e.Session)
}
