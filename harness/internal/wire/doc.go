// Package wire holds crosstalk's client side of HTTP: requests serialised
// ahead of a burst, persistent HTTP/1.1 connections, and an HTTP/2
// connection driven frame by frame for the single-packet attack. Both kinds
// of connection come from one [Dialer], so TCP_NODELAY and the TLS handshake
// are set up in one place.
//
// It knows nothing of users, plans or strategies: package harness decides
// what to send and when, and this package only moves bytes and notes the
// times that matter (when a request left, when the first reply byte came).
// It is kept apart the way golang.org/x/net/http2 keeps its connection pool
// apart from its write schedulers.
package wire
