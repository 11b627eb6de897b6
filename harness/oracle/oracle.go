// Package oracle decides whether a response carries another user's data.
//
// It knows every user's markers — canaries, static markers, identity values and
// learned markers — and scans the status, the headers and the body of a response
// for any marker that does not belong to the viewer. It sees through content
// encodings (gzip, deflate, br), chunked framing, JSON escapes, HTML entities,
// percent-encoding, base64, quoted-printable and multipart bodies.
package oracle

import "net/http"

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
