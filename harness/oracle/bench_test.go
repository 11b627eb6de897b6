package oracle

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchPage builds about size bytes of HTML-like text with no escapes in
// it, the common case: words, numbers, tags and attributes.
func benchPage(size int, plant []string) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields(`the inbox message from subject date reply forward delete archive
		settings account profile logout welcome back unread starred draft sent spam
		Monday Tuesday January meeting notes project report quarterly budget review`)
	tags := []string{`<div class="row">`, `</div>`, `<a href="/mail/view/`, `">`, `</a>`, `<span>`, `</span>`, "\n", `<td width="50">`, `</td>`}
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		switch rng.IntN(10) {
		case 0:
			b.WriteString(tags[rng.IntN(len(tags))])
		case 1:
			fmt.Fprintf(&b, "%d ", rng.IntN(100000))
		default:
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		if len(plant) > 0 && i%5000 == 0 {
			b.WriteString(plant[rng.IntN(len(plant))] + " ")
		}
	}
	return []byte(b.String())
}

func benchScan(b *testing.B, o *Oracle, r Response, viewer string) {
	b.Helper()
	b.SetBytes(int64(len(r.Body)))
	b.ReportAllocs()
	if len(o.Scan(viewer, r)) == 0 {
		b.Fatal("nothing found: the benchmark is not measuring matches")
	}
	b.ResetTimer()
	for b.Loop() {
		o.Scan(viewer, r)
	}
}

// canaryUsers returns n users with one canary each and, with identity,
// their login, e-mail and a secret session token.
func canaryUsers(n int, identity bool) ([]Marker, []string) {
	var ms []Marker
	var planted []string
	for i := range n {
		u := fmt.Sprintf("user%d", i)
		c := fmt.Sprintf("ctk%020d", i)
		ms = append(ms, Marker{Owner: u, Kind: Canary, Value: c})
		planted = append(planted, c)
		if identity {
			ms = append(ms,
				Marker{Owner: u, Kind: Identity, Value: u + "x", Label: "login"},
				Marker{Owner: u, Kind: Identity, Value: u + "@example.com", Label: "email"},
				Marker{Owner: u, Kind: Identity, Value: fmt.Sprintf("sess-%016x", i*7919), Secret: true})
		}
	}
	return ms, planted
}

func BenchmarkScanPlainCanaries(b *testing.B) {
	ms, planted := canaryUsers(100, false)
	o, err := New(ms)
	if err != nil {
		b.Fatal(err)
	}
	benchScan(b, o, bodyResp(benchPage(1<<20, planted)), "user0")
}

func BenchmarkScanPlainCanariesAndIdentity(b *testing.B) {
	ms, planted := canaryUsers(100, true)
	o, err := New(ms)
	if err != nil {
		b.Fatal(err)
	}
	benchScan(b, o, bodyResp(benchPage(1<<20, planted)), "user0")
}

func BenchmarkScanLearned10k(b *testing.B) {
	ms, _ := canaryUsers(100, true)
	var planted []string
	for i := range 10000 {
		v := fmt.Sprintf("ORD-%05d-%c%c", i, 'A'+i%26, 'A'+i/26%26)
		ms = append(ms, Marker{Owner: fmt.Sprintf("user%d", i%100), Kind: Learned, Value: v, Label: "GET /orders"})
		if i%100 == 1 {
			planted = append(planted, v)
		}
	}
	o, err := New(ms)
	if err != nil {
		b.Fatal(err)
	}
	benchScan(b, o, bodyResp(benchPage(1<<20, planted)), "user0")
}

func BenchmarkScanGzipJSON(b *testing.B) {
	ms, planted := canaryUsers(100, true)
	o, err := New(ms)
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
	r := bodyResp(gzipped(b, plain), "Content-Encoding", "gzip")
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		o.Scan("user0", r)
	}
}
