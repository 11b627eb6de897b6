package harness

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/crosstalk/crosstalk/harness/internal/wire"
)

// SpeaksH2 reports whether the target at base answers HTTP/2 the way
// SyncH2 needs it: ALPN "h2" over TLS, or prior knowledge (h2c) over
// cleartext, with a PING answered within timeout. A target that speaks only
// HTTP/1.1 answers the preface with an error and is reported false.
func SpeaksH2(base string, insecure bool, timeout time.Duration) bool {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	d := wire.NewDialer(u, timeout, 0, insecure)
	defer d.Close()
	_, err = d.H2(timeout)
	return err == nil
}

// fireH2 is the single-packet attack. Before the release it opens every
// stream that has a body (HEADERS and all but the body's last byte), since
// Go's server, like others, starts a handler as soon as HEADERS arrives.
// At the release, one write carries the final frames of every step without
// an offset: whole HEADERS frames for body-less requests and one-byte DATA
// frames for the rest. Steps with an offset follow in their own writes.
//
// Unlike the HTTP/1.1 strategies, every user's request of the burst goes on
// the dialer's one HTTP/2 connection, each stream with its own user's
// credentials: only so can the final frames of all requests leave in one
// write.
func fireH2(shots []*shot, timeout time.Duration, maxBody int64) time.Time {
	var live []*shot
	for _, sh := range shots {
		if sh.c != nil && sh.ss != nil {
			live = append(live, sh)
		}
	}
	if len(live) == 0 {
		return time.Now()
	}
	d := live[0].ss.d
	c, err := d.H2(timeout)
	if err != nil {
		for _, sh := range live {
			sh.fail(fmt.Errorf("h2: %w", err), timeout)
		}
		return time.Now()
	}
	deadline := time.Now().Add(timeout)
	_ = c.SetDeadline(deadline)
	streams := make([]*wire.Stream, len(live))
	for i, sh := range live {
		streams[i] = wire.NewStream(sh.wire, sh.step.Offset, sh.step.CancelAfter)
	}
	if err := c.Stage(streams, d.Base.Scheme, func(i int) string { return live[i].step.Request }); err != nil {
		c.Retire(false)
		for _, sh := range live {
			sh.fail(fmt.Errorf("h2: %w", err), timeout)
		}
		return time.Now()
	}

	// Offset order: the zero-offset steps form the single packet.
	order := slices.Clone(streams)
	slices.SortStableFunc(order, func(a, b *wire.Stream) int { return int(a.Offset - b.Offset) })
	var packet []byte
	n := 0
	for n < len(order) && order[n].Offset <= 0 {
		packet = append(packet, order[n].Final()...)
		n++
	}

	// Without delayed steps, this goroutine reads the responses itself.
	// Handing the read to another goroutine at the release wakes a second
	// client thread just when the target needs both cores to start its
	// handlers; on the two-step lastlogin plan, reading inline reproduced
	// the leak in 88% of 2,100 runs against 84% (fuzz/README.md).
	inline := n == len(order)
	readDone := make(chan struct{})
	sentAt := make(chan struct{})
	if !inline {
		go func() {
			defer close(readDone)
			<-sentAt
			c.Read(streams, deadline, maxBody)
		}()
	}

	release := time.Now()
	err = c.WritePacket(packet)
	now := time.Now()
	for _, st := range order[:n] {
		st.Sent = now
		if err != nil {
			st.Fail(err)
		}
	}
	if inline {
		if err == nil {
			c.Read(streams, deadline, maxBody)
		}
		close(readDone)
	}
	// The reader starts once the packet is out so that it sees every Sent
	// time of the packet; delayed steps set theirs under the write lock.
	close(sentAt)
	for _, st := range order[n:] {
		waitUntil(release.Add(st.Offset))
		if werr := c.Release(st); werr != nil {
			err = werr
			break
		}
	}
	if err != nil {
		// Without the rest of the requests there is nothing more to wait for.
		c.Retire(true)
	}
	<-readDone
	c.Used()
	for i, st := range streams {
		live[i].finishH2(st, c.ID, timeout)
	}
	return release
}
