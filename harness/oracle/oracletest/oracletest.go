// Package oracletest is the workload the oracle is measured on: users'
// markers and HTML-like pages with some of them planted. The oracle's Go
// benchmarks and crosstalk bench both scan it, so that the figures they
// quote are of the same pages and markers and can be set side by side.
package oracletest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/crosstalk/crosstalk/harness/oracle"
)

// Viewer is the user the workload's pages are scanned for: user0, whose own
// markers are no findings, while everyone else's are.
const Viewer = "user0"

// Canaries returns n users' markers, one seeded canary each, and the values
// to plant in pages.
func Canaries(n int) (markers []oracle.Marker, planted []string) {
	return users(n, false)
}

// CanariesAndIdentity is [Canaries] plus each user's login, e-mail and a
// secret session token, the identity markers a logged-in run adds.
func CanariesAndIdentity(n int) (markers []oracle.Marker, planted []string) {
	return users(n, true)
}

// Learned is [CanariesAndIdentity] for n users plus k learned markers
// shared out among them, of the shape a baseline teaches (order numbers).
// One learned value in a hundred is planted, none of the canaries: the pages
// of a run that learned markers mostly carry those.
func Learned(n, k int) (markers []oracle.Marker, planted []string) {
	markers, _ = users(n, true)
	for i := range k {
		v := fmt.Sprintf("ORD-%05d-%c%c", i, 'A'+i%26, 'A'+i/26%26)
		markers = append(markers, oracle.Marker{Owner: fmt.Sprintf("user%d", i%n), Kind: oracle.Learned, Value: v, Label: "GET /orders"})
		if i%100 == 1 {
			planted = append(planted, v)
		}
	}
	return markers, planted
}

func users(n int, identity bool) ([]oracle.Marker, []string) {
	var ms []oracle.Marker
	var planted []string
	for i := range n {
		u := fmt.Sprintf("user%d", i)
		// Fixed canaries of the generator's shape keep runs comparable.
		c := fmt.Sprintf("ctk%020d", i)
		ms = append(ms, oracle.Marker{Owner: u, Kind: oracle.Canary, Value: c})
		planted = append(planted, c)
		if identity {
			ms = append(ms,
				oracle.Marker{Owner: u, Kind: oracle.Identity, Value: u + "x", Label: "login"},
				oracle.Marker{Owner: u, Kind: oracle.Identity, Value: u + "@example.com", Label: "email"},
				oracle.Marker{Owner: u, Kind: oracle.Identity, Value: fmt.Sprintf("sess-%016x", i*7919), Secret: true})
		}
	}
	return ms, planted
}

// plantEvery is how many words of a page lie between two planted values.
const plantEvery = 5000

// Page builds about size bytes of HTML-like text with no escapes in it, the
// common case: words, numbers, tags and attributes, the same for the same
// size and plant. A value of plant is put in at the start and after every
// few thousand words, so that a scan also reports matches.
func Page(size int, plant []string) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields(`the inbox message from subject date reply forward delete archive
		settings account profile logout welcome back unread starred draft sent spam
		Monday Tuesday January meeting notes project report quarterly budget review`)
	tags := []string{`<div class="row">`, `</div>`, `<a href="/mail/view/`, `">`, `</a>`, `<span>`, `</span>`, "\n", `<td width="50">`, `</td>`}
	var b strings.Builder
	b.Grow(size + 64)
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
		if len(plant) > 0 && i%plantEvery == 0 {
			b.WriteString(plant[rng.IntN(len(plant))] + " ")
		}
	}
	return []byte(b.String())
}

// Response is body as a plain 200 text/html response.
func Response(body []byte) oracle.Response {
	return oracle.Response{Status: http.StatusOK, Header: http.Header{"Content-Type": {"text/html"}}, Body: body}
}
