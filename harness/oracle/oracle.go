// Package oracle decides whether a response carries another user's data.
//
// It knows every user's markers — canaries, static markers, identity values and
// learned markers — and scans the status, the headers and the body of a response
// for any marker that does not belong to the viewer. It sees through content
// encodings (gzip, deflate, br), chunked framing, JSON escapes, HTML entities,
// percent-encoding, base64, quoted-printable and multipart bodies.
//
// Build an [Oracle] once with [New] from every user's markers, then call
// [Oracle.Scan] on each response with the name of the user who received it.
// [Learn] finds markers in baseline responses, [NewCanary] makes tokens for
// seed requests, and [Oracle.Redact] keeps secrets out of any text written
// for people.
package oracle

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Kind is where a marker comes from.
type Kind string

// The four kinds of marker.
const (
	// Canary markers are tokens crosstalk planted in a user's own data through
	// the spec's seed requests. They have a fixed shape (see [NewCanary]) so a
	// scan can look for the shape first and look the token up after.
	Canary Kind = "canary"
	// Static markers are strings the spec lists for a user.
	Static Kind = "static"
	// Identity markers are the user's login, email and session secrets.
	Identity Kind = "identity"
	// Learned markers are values seen in a user's two sequential baselines and
	// in no other user's baselines.
	Learned Kind = "learned"
)

// Marker is a string that identifies whose data a response carries.
type Marker struct {
	Owner string `json:"owner"`
	Kind  Kind   `json:"kind"`
	Value string `json:"value"`
	// Label says what the value is, for reports: "email", "login", "session
	// cookie", or the request a learned marker came from.
	Label string `json:"label,omitempty"`
	// Secret values (passwords, cookies, tokens) are still scanned for, but are
	// never written into evidence or reports.
	Secret bool `json:"secret,omitempty"`
}

// Response is what the oracle scans.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// TransferEncoding is "chunked" when Body still carries its chunk framing,
	// as in raw captures; a client that already removed it leaves this empty.
	TransferEncoding []string
}

// Match is one marker of another user found in a response.
type Match struct {
	Owner  string `json:"owner"`
	Kind   Kind   `json:"kind"`
	Label  string `json:"label,omitempty"`
	Marker string `json:"marker"` // the value, or "[redacted]" for secrets
	// Where is "status", "header:<Name>" or "body".
	Where string `json:"where"`
	// Encoding is the chain of decodings the marker was found through, outermost
	// first and joined by ">", e.g. "gzip>base64"; empty when found as sent.
	Encoding string `json:"encoding,omitempty"`
	// Excerpt is a short stretch of decoded text around the marker, with every
	// known secret redacted.
	Excerpt string `json:"excerpt"`
}

// minValueLen is the shortest marker value [New] accepts: shorter values
// would match by chance in ordinary text and in binary bodies.
const minValueLen = 3

// Redacted replaces secrets in every text the oracle writes.
const Redacted = "[redacted]"

// Oracle knows every user's markers and finds them in responses. Build one
// with [New]; it is never modified afterwards, so one Oracle may be shared by
// any number of goroutines.
type Oracle struct {
	markers []Marker // as given to New, for Markers
	cfg     config   // as given to New, for Unlearn
	marks   []mark   // one per distinct value
	ix      index
	owners  map[string]int32
	// secrets holds every Secret value, indexed by their first two bytes
	// for [Oracle.Redact] and excerpts.
	secrets       [][]byte
	maxSecret     int
	secretPairs   [1 << 16 / 64]uint64 // first two bytes of some secret
	secretsByPair map[uint16][][]byte
}

// mark is one distinct marker value with what a Match needs about it.
type mark struct {
	Marker
	owner int32
	// display is what Match.Marker shows: the value, with any secret inside
	// it redacted, or [Redacted] for a secret.
	display string
}

// Option configures [New]. The set is closed: options come from this
// package only.
type Option interface{ apply(*config) }

type config struct{ redactAlso []string }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// RedactAlso adds values that are kept out of every excerpt without being
// markers. A password that several users share identifies none of them, so
// it cannot be a marker, but it must still never be shown. Values shorter
// than 3 bytes are ignored: redacting them would blank out ordinary text.
func RedactAlso(values ...string) Option {
	return optionFunc(func(c *config) { c.redactAlso = append(c.redactAlso, values...) })
}

// New builds an Oracle from every user's markers.
//
// It fails on a marker without an owner or value, on a value shorter than 3
// bytes, on an unknown [Kind], on a value owned by two different users (the
// oracle could not say whose data it saw), and on a Secret value that occurs
// inside the text "[redacted]" (it could never be kept out of evidence).
// Errors name the users and, unless the value is Secret, the value. The same
// value given twice for one user is kept once, as Secret if either copy is.
func New(markers []Marker, opts ...Option) (*Oracle, error) {
	var cfg config
	for _, op := range opts {
		op.apply(&cfg)
	}
	o := &Oracle{markers: slices.Clone(markers), cfg: cfg, owners: map[string]int32{}}
	byValue := make(map[string]int, len(markers))
	for i, m := range markers {
		switch {
		case m.Owner == "":
			return nil, fmt.Errorf("oracle: marker %d has no owner", i)
		case m.Value == "":
			return nil, fmt.Errorf("oracle: marker %d of user %q has an empty value", i, m.Owner)
		case len(m.Value) < minValueLen:
			if m.Secret {
				return nil, fmt.Errorf("oracle: secret marker %d of user %q is shorter than %d bytes", i, m.Owner, minValueLen)
			}
			return nil, fmt.Errorf("oracle: marker %q of user %q is shorter than %d bytes", m.Value, m.Owner, minValueLen)
		}
		switch m.Kind {
		case Canary, Static, Identity, Learned:
		default:
			return nil, fmt.Errorf("oracle: marker %d of user %q has unknown kind %q", i, m.Owner, m.Kind)
		}
		if m.Secret && strings.Contains(Redacted, m.Value) {
			return nil, fmt.Errorf("oracle: secret marker %d of user %q occurs in %q and could not be redacted", i, m.Owner, Redacted)
		}
		if j, ok := byValue[m.Value]; ok {
			prev := &o.marks[j]
			if prev.Owner != m.Owner {
				if prev.Secret || m.Secret {
					return nil, fmt.Errorf("oracle: users %q and %q have the same secret marker value", prev.Owner, m.Owner)
				}
				return nil, fmt.Errorf("oracle: users %q and %q have the same marker value %q", prev.Owner, m.Owner, m.Value)
			}
			prev.Secret = prev.Secret || m.Secret
			// A configured kind says more about the value than a learned one.
			if prev.Kind == Learned && m.Kind != Learned {
				prev.Kind, prev.Label = m.Kind, m.Label
			}
			continue
		}
		id, ok := o.owners[m.Owner]
		if !ok {
			id = int32(len(o.owners))
			o.owners[m.Owner] = id
		}
		byValue[m.Value] = len(o.marks)
		o.marks = append(o.marks, mark{Marker: m, owner: id})
	}
	secret := map[string]bool{}
	for _, m := range o.marks {
		if m.Secret {
			secret[m.Value] = true
		}
	}
	for _, v := range cfg.redactAlso {
		if len(v) >= minValueLen && !strings.Contains(Redacted, v) {
			secret[v] = true
		}
	}
	for _, v := range slices.Sorted(maps.Keys(secret)) {
		o.secrets = append(o.secrets, []byte(v))
		o.maxSecret = max(o.maxSecret, len(v))
	}
	o.indexSecrets()
	for i := range o.marks {
		m := &o.marks[i]
		if m.Secret {
			m.display = Redacted
		} else {
			m.display = o.Redact(m.Value)
		}
	}
	o.ix = newIndex(o.marks)
	return o, nil
}

// Markers returns a copy of the markers the Oracle was built with.
func (o *Oracle) Markers() []Marker {
	return slices.Clone(o.markers)
}
