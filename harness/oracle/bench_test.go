package oracle_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/harness/oracle/oracletest"
)

// The workloads are those of crosstalk bench's oracle table (package
// oracletest), so the two sets of figures can be compared.

func benchScan(b *testing.B, ms []oracle.Marker, r oracle.Response) {
	b.Helper()
	o, err := oracle.New(ms)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(r.Body)))
	b.ReportAllocs()
	if len(o.Scan(oracletest.Viewer, r)) == 0 {
		b.Fatal("nothing found: the benchmark is not measuring matches")
	}
	b.ResetTimer()
	for b.Loop() {
		o.Scan(oracletest.Viewer, r)
	}
}

func BenchmarkScanPlainCanaries(b *testing.B) {
	ms, planted := oracletest.Canaries(100)
	benchScan(b, ms, oracletest.Response(oracletest.Page(1<<20, planted)))
}

func BenchmarkScanPlainCanariesAndIdentity(b *testing.B) {
	ms, planted := oracletest.CanariesAndIdentity(100)
	benchScan(b, ms, oracletest.Response(oracletest.Page(1<<20, planted)))
}

func BenchmarkScanLearned10k(b *testing.B) {
	ms, planted := oracletest.Learned(100, 10000)
	benchScan(b, ms, oracletest.Response(oracletest.Page(1<<20, planted)))
}

func BenchmarkScanGzipJSON(b *testing.B) {
	ms, planted := oracletest.CanariesAndIdentity(100)
	o, err := oracle.New(ms)
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString(`{"messages":[`)
	for i := 0; sb.Len() < 1<<20; i++ {
		fmt.Fprintf(&sb, `{"id":%d,"from":"user%d@example.com","url":"https:\/\/mail.example\/m\/%d","body":"%s"},`, i, i%100, i, planted[i%len(planted)])
	}
	sb.WriteString(`{}]}`)
	plain := []byte(sb.String())
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(plain); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	r := oracletest.Response(z.Bytes())
	r.Header.Set("Content-Encoding", "gzip")
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		o.Scan(oracletest.Viewer, r)
	}
}
