package harness

import (
	"slices"
	"strconv"
	"sync"
	"time"
)

// SyncLastByte names the last-byte strategy: HTTP/1.1, every request written
// except its final byte before the release, the final bytes written together.
const SyncLastByte = "lastbyte"

func init() { strategies[SyncLastByte] = fireLastByte }

// fireLastByte sends all but the last byte of every request early, so that
// the server has parsed everything but cannot start any handler yet; the
// release is then one byte per connection. The final bytes are written by
// one goroutine in a tight loop rather than by one goroutine each: a loop of
// one-byte writes on warm connections is a few microseconds per request,
// whereas waking N goroutines adds the scheduler's latency to the spread.
// Readers are parked on their connections before the release, so reading
// the replies overlaps with the remaining writes.
func fireLastByte(shots []*shot, timeout time.Duration, maxBody int64) time.Time {
	live := make([]*shot, 0, len(shots))
	for _, sh := range shots {
		if sh.c == nil {
			continue
		}
		if err := sh.c.nc.SetDeadline(time.Now().Add(timeout)); err != nil {
			sh.fail(err, timeout)
			continue
		}
		raw := sh.wire.raw
		if len(raw) > 1 {
			if _, err := sh.c.nc.Write(raw[:len(raw)-1]); err != nil {
				sh.fail(err, timeout)
				continue
			}
		}
		live = append(live, sh)
	}
	// Steps with an offset go last, in offset order, so the loop below can
	// wait for each in turn without holding back any other.
	slices.SortStableFunc(live, func(a, b *shot) int { return int(a.step.Offset - b.step.Offset) })

	var done sync.WaitGroup
	sent := make([]chan struct{}, len(live))
	for i, sh := range live {
		sent[i] = make(chan struct{})
		done.Add(1)
		go func() {
			defer done.Done()
			<-sent[i]
			if sh.err != nil {
				return
			}
			sh.read(timeout, maxBody)
		}()
	}
	release := time.Now()
	for i, sh := range live {
		if sh.step.Offset > 0 {
			waitUntil(release.Add(sh.step.Offset))
		}
		raw := sh.wire.raw
		_, err := sh.c.nc.Write(raw[len(raw)-1:])
		sh.ex.Sent = time.Now()
		if err != nil {
			sh.fail(err, timeout)
		}
		close(sent[i])
	}
	done.Wait()
	return release
}

// fail records a transport error of a shot that never got a reply.
func (sh *shot) fail(err error, timeout time.Duration) {
	if sh.c != nil {
		sh.c.dead = true
	}
	sh.err = err
	sh.ex.Done = time.Now()
	if sh.ex.Sent.IsZero() {
		sh.ex.Sent = sh.ex.Done
	}
	sh.ex.Err = describeErr(err, timeout)
}

// read takes the reply of a shot whose request is fully written, honouring
// CancelAfter the way [shot.send] does.
func (sh *shot) read(timeout time.Duration, maxBody int64) {
	limit := timeout
	if sh.step.CancelAfter > 0 && sh.step.CancelAfter < timeout {
		limit = sh.step.CancelAfter
		if err := sh.c.nc.SetReadDeadline(sh.ex.Sent.Add(limit)); err != nil {
			sh.fail(err, timeout)
			return
		}
	}
	sh.c.tr.first = time.Time{}
	resp, err := sh.c.readResponse(sh.wire.method, maxBody)
	sh.finish(resp, err, limit, timeout)
}

// finish files a reply (or its failure) into the shot's exchange, for every
// HTTP/1.1 strategy.
func (sh *shot) finish(resp response, err error, limit, timeout time.Duration) {
	sh.ex.FirstByte, sh.ex.Done = resp.firstByte, time.Now()
	sh.resp, sh.err = resp, err
	sh.ex.Status, sh.ex.Bytes = resp.status, len(resp.body)
	if err != nil {
		if sh.step.CancelAfter > 0 && limit == sh.step.CancelAfter && isTimeout(err) {
			sh.canceled = true
			sh.ex.Err = "canceled by the client after " + sh.step.CancelAfter.String()
			// A client that gives up closes its socket there and then; that
			// is what tells the server. Waiting for the rest of the burst
			// would let the server finish first and hide the cancel.
			if sh.c != nil {
				sh.c.close()
			}
		} else {
			sh.ex.Err = describeErr(err, timeout)
		}
	}
	sh.ex.Arrival = arrivalOf(resp)
}

// arrivalOf reads the handler-entry time a target reported in
// [ArrivalHeader], or the zero time.
func arrivalOf(resp response) time.Time {
	v := resp.header.Get(ArrivalHeader)
	if v == "" {
		return time.Time{}
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
