package harness

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness/internal/wire"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// This file is the exchanges stage: how a reply, or its failure, is filed
// into a shot's [Exchange], for every strategy alike.

// ArrivalHeader is the response header in which a target may report when its
// handler started, in Unix nanoseconds. The built-in webmail sends it when
// asked to; with it, a burst's spread can be measured where it matters, at the
// server, not only at the client.
const ArrivalHeader = "X-Arrival-Ns"

// shot is a step made ready to fire: its user's session, the serialised
// request and a warm connection to send it on.
type shot struct {
	step Step
	idx  int
	ss   *session
	req  *spec.Request
	wire wire.Request
	c    *wire.Conn

	ex       Exchange
	resp     wire.Response
	err      error
	canceled bool
}

// send performs the shot's round trip. A step with CancelAfter gets a deadline
// that short and, when it hits, counts as a client cancel, not a target error.
func (sh *shot) send(timeout time.Duration, maxBody int64) {
	limit := timeout
	if sh.step.CancelAfter > 0 && sh.step.CancelAfter < timeout {
		limit = sh.step.CancelAfter
	}
	sent, resp, err := sh.c.RoundTrip(sh.wire, time.Now().Add(limit), maxBody)
	sh.ex.Sent = sent
	sh.finish(resp, err, limit, timeout)
}

// fail records a transport error of a shot that never got a reply.
func (sh *shot) fail(err error, timeout time.Duration) {
	if sh.c != nil {
		sh.c.Dead = true
	}
	sh.err = err
	sh.ex.Done = time.Now()
	if sh.ex.Sent.IsZero() {
		sh.ex.Sent = sh.ex.Done
	}
	sh.ex.Err = wire.DescribeErr(err, timeout)
}

// read takes the reply of a shot whose request is fully written, honouring
// CancelAfter the way [shot.send] does.
func (sh *shot) read(timeout time.Duration, maxBody int64) {
	limit := timeout
	if sh.step.CancelAfter > 0 && sh.step.CancelAfter < timeout {
		limit = sh.step.CancelAfter
		if err := sh.c.SetReadDeadline(sh.ex.Sent.Add(limit)); err != nil {
			sh.fail(err, timeout)
			return
		}
	}
	resp, err := sh.c.ReadResponse(sh.wire.Method, maxBody)
	sh.finish(resp, err, limit, timeout)
}

// finish files a reply (or its failure) into the shot's exchange, for every
// HTTP/1.1 strategy.
func (sh *shot) finish(resp wire.Response, err error, limit, timeout time.Duration) {
	sh.ex.FirstByte, sh.ex.Done = resp.FirstByte, time.Now()
	sh.resp, sh.err = resp, err
	sh.ex.Status, sh.ex.Bytes = resp.Status, len(resp.Body)
	if err != nil {
		if sh.step.CancelAfter > 0 && limit == sh.step.CancelAfter && wire.IsTimeout(err) {
			sh.canceled = true
			sh.ex.Err = "canceled by the client after " + sh.step.CancelAfter.String()
			// A client that gives up closes its socket there and then; that
			// is what tells the server. Waiting for the rest of the burst
			// would let the server finish first and hide the cancel.
			if sh.c != nil {
				sh.c.Close()
			}
		} else {
			sh.ex.Err = wire.DescribeErr(err, timeout)
		}
	}
	sh.ex.Arrival = arrivalOf(resp)
}

// finishH2 files a stream's outcome into its shot's exchange.
func (sh *shot) finishH2(st *wire.Stream, conn string, timeout time.Duration) {
	sh.ex.Sent = st.Sent
	if sh.ex.Sent.IsZero() {
		sh.ex.Sent = time.Now()
	}
	sh.ex.Conn = conn
	sh.canceled = st.Canceled
	sh.ex.FirstByte, sh.ex.Done = st.Resp.FirstByte, time.Now()
	sh.resp, sh.err = st.Resp, st.Err
	sh.ex.Status, sh.ex.Bytes = st.Resp.Status, len(st.Resp.Body)
	switch {
	case sh.canceled:
		sh.ex.Err = "canceled by the client after " + sh.step.CancelAfter.String()
	case st.Err != nil:
		sh.ex.Err = wire.DescribeErr(st.Err, timeout)
	}
	if st.Resp.Header != nil {
		sh.ex.Arrival = arrivalOf(st.Resp)
	}
}

// arrivalOf reads the handler-entry time a target reported in
// [ArrivalHeader], or the zero time.
func arrivalOf(resp wire.Response) time.Time {
	v := resp.Header.Get(ArrivalHeader)
	if v == "" {
		return time.Time{}
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// maxBackend bounds what a backend header may put into the stream: an
// address list is short, and the header is the target's to fill.
const maxBackend = 256

// backendOf reads the backend a balancer named in header, cut to
// maxBackend bytes; "" without a header name or a reply.
func backendOf(resp wire.Response, header string) string {
	if header == "" || resp.Header == nil {
		return ""
	}
	v := strings.TrimSpace(strings.Join(resp.Header.Values(header), ", "))
	if len(v) > maxBackend {
		v = v[:maxBackend]
	}
	return strings.ToValidUTF8(v, "")
}

// waitUntil spins until t. Offsets are microseconds, far below what a timer
// can hit, so it yields instead of sleeping.
func waitUntil(t time.Time) {
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}

// burstTimes works out the release skew and, where the target reports it, the
// arrival spread of a fired burst.
func burstTimes(shots []*shot) (skew, spread time.Duration) {
	var minS, maxS, minA, maxA time.Time
	arrivals := 0
	for _, sh := range shots {
		if !sh.ex.Sent.IsZero() {
			if minS.IsZero() || sh.ex.Sent.Before(minS) {
				minS = sh.ex.Sent
			}
			if sh.ex.Sent.After(maxS) {
				maxS = sh.ex.Sent
			}
		}
		if !sh.ex.Arrival.IsZero() {
			arrivals++
			if minA.IsZero() || sh.ex.Arrival.Before(minA) {
				minA = sh.ex.Arrival
			}
			if sh.ex.Arrival.After(maxA) {
				maxA = sh.ex.Arrival
			}
		}
	}
	if !minS.IsZero() {
		skew = maxS.Sub(minS)
	}
	if arrivals > 1 {
		spread = maxA.Sub(minA)
	}
	return skew, spread
}

// statusIsError decides which replies count against the error budget: server
// errors; 401/403, which mean the session was lost; and 429, a rate limit.
// Each would otherwise turn responses that carry no data at all into
// "isolated" ones that prove nothing.
func statusIsError(status int) bool {
	return status >= 500 || status == http.StatusUnauthorized || status == http.StatusForbidden ||
		status == http.StatusTooManyRequests
}
