package inbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/inbox"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// starter is a Starter that reads a body as "body:" and the body, and records what it read and what
// each start was given; fail, when set, says how a start ends.
type starter struct {
	mu      sync.Mutex
	reads   []int64
	started map[int64][]string
	fail    func(e store.InboxEntry) error
	readErr func(e store.InboxEntry) error
}

func (s *starter) ReadEntry(e store.InboxEntry) (string, error) {
	s.mu.Lock()
	s.reads = append(s.reads, e.ID)
	s.mu.Unlock()
	if s.readErr != nil {
		if err := s.readErr(e); err != nil {
			return "", err
		}
	}
	return "body:" + string(e.Body), nil
}

func (s *starter) StartEntry(_ context.Context, e store.InboxEntry, read string) error {
	s.mu.Lock()
	if s.started == nil {
		s.started = map[int64][]string{}
	}
	s.started[e.ID] = append(s.started[e.ID], read)
	s.mu.Unlock()
	if s.fail != nil {
		return s.fail(e)
	}
	return nil
}

func (s *starter) counts() (reads, starts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.started {
		starts += len(st)
	}
	return len(s.reads), starts
}

func newRelay(t *testing.T, s *store.Store, st *starter, opts inbox.Options) *inbox.Relay[string] {
	t.Helper()
	opts.Log = slogDiscard()
	r := inbox.NewRelay[string](s, st, opts)
	t.Cleanup(r.Close)
	return r
}

// An entry that starts is deleted; one that fails waits for its backoff.
func TestRelayDeletesStartedAndDelaysFailed(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	for _, body := range []string{`{"n":1}`, `{"n":2}`} {
		if _, err := s.AddToInbox(ctx, "airudder", "call-completed", []byte(body), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st := &starter{fail: func(e store.InboxEntry) error {
		if string(e.Body) == `{"n":2}` {
			return errors.New("temporal down")
		}
		return nil
	}}
	r := newRelay(t, s, st, inbox.Options{})
	res, err := r.RelayOnce(ctx)
	if reads, starts := st.counts(); err != nil || res != (inbox.Result{Done: 1, Failed: 1}) || reads != 2 || starts != 2 {
		t.Fatalf("result %+v, %d reads, %d starts, err %v", res, reads, starts, err)
	}
	// The failed one waits for its backoff, so a second pass right away finds nothing due.
	res, _ = r.RelayOnce(ctx)
	stat, _ := s.InboxStatus(ctx)
	if res.Done+res.Failed != 0 || stat.Pending != 1 || stat.Dead != 0 {
		t.Errorf("second pass %+v, pending %d, dead %d; want nothing done, 1, 0", res, stat.Pending, stat.Dead)
	}
}

// An entry that keeps failing becomes a dead letter (after its attempts, its age, or at once when its
// body does not read), is listed, is no longer claimed, and can be replayed.
func TestRelayDeadLetters(t *testing.T) {
	t.Parallel()
	db := storetest.DB(t)
	s := store.New(db)
	ctx := context.Background()
	old, _ := s.AddToInbox(ctx, "airudder", "call-completed", []byte(`{"n":"old"}`), time.Now().Add(-100*time.Hour))
	tried, _ := s.AddToInbox(ctx, "airudder", "call-completed", []byte(`{"n":"tried"}`), time.Now())
	broken, _ := s.AddToInbox(ctx, "airudder", "call-completed", []byte(`{"n":"broken"}`), time.Now())
	fresh, _ := s.AddToInbox(ctx, "airudder", "call-completed", []byte(`{"n":"fresh"}`), time.Now())
	if _, err := db.Exec(`UPDATE inbox SET attempts = 4 WHERE id = $1`, tried); err != nil {
		t.Fatal(err)
	}
	st := &starter{
		fail: func(store.InboxEntry) error { return errors.New("temporal down") },
		readErr: func(e store.InboxEntry) error {
			if e.ID == broken {
				return errors.New("unknown kind")
			}
			return nil
		},
	}
	r := newRelay(t, s, st, inbox.Options{MaxAttempts: 5, MaxAge: 72 * time.Hour})
	res, err := r.RelayOnce(ctx)
	if err != nil || res != (inbox.Result{Failed: 1, Dead: 3}) {
		t.Fatalf("result %+v, %v", res, err)
	}
	if _, starts := st.counts(); starts != 3 {
		t.Errorf("%d starts; want 3 (not the body that does not read)", starts)
	}
	dead, _, err := s.ListInbox(ctx, store.InboxFilter{State: store.InboxDead, Limit: 10})
	if err != nil || len(dead) != 3 || dead[0].ID != broken || !strings.Contains(dead[0].LastError, "unknown kind") || dead[1].ID != tried || dead[2].ID != old {
		t.Fatalf("dead letters = %+v, %v", dead, err)
	}
	// fresh waits for its backoff (a second), longer for this test.
	if _, err := db.Exec(`UPDATE inbox SET next_attempt_at = now() + interval '1 hour' WHERE id = $1`, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplayInbox(ctx, tried); err != nil {
		t.Fatal(err)
	}
	st.fail = nil
	res, err = r.RelayOnce(ctx)
	if err != nil || res != (inbox.Result{Done: 1}) || len(st.started[tried]) != 2 {
		t.Errorf("after the replay: %+v, %v, %d starts of the replayed entry; want it alone started again (the dead stay dead)", res, err, len(st.started[tried]))
	}
}

// While one relay pass works through a slow batch, its lease is extended, so another pass claims nothing
// even after the first lease would have run out.
func TestRelayLeaseLastsAsLongAsTheWork(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	for range 3 {
		if _, err := s.AddToInbox(ctx, "airudder", "call-completed", []byte(`{}`), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	lease := 600 * time.Millisecond
	second := &starter{}
	other := newRelay(t, s, second, inbox.Options{Lease: lease})
	first := &starter{fail: func(store.InboxEntry) error {
		time.Sleep(lease) // each entry takes as long as a whole lease: the last one waits for 3 leases
		if res, err := other.RelayOnce(ctx); err != nil || res.Done != 0 {
			t.Errorf("second relay: %+v, %v", res, err)
		}
		return nil
	}}
	res, err := newRelay(t, s, first, inbox.Options{Lease: lease}).RelayOnce(ctx)
	if _, starts := second.counts(); err != nil || res.Done != 3 || starts != 0 {
		t.Errorf("err %v, first relay handed over %d, second started %d", err, res.Done, starts)
	}
	if stat, _ := s.InboxStatus(ctx); stat.Pending != 0 {
		t.Errorf("pending = %d after the first relay handed every entry over", stat.Pending)
	}
}

// The relay of the process whose receiver kept a callback starts it from what the receiver read, without
// reading its body again, while it is due (a failed start keeps it for the retry); the relay of another
// process, which holds nothing of it, reads it from its body. What was kept is forgotten once the entry
// is handed over or dead.
func TestRelayStartsFromWhatTheReceiverRead(t *testing.T) {
	t.Parallel()
	db := storetest.DB(t)
	s := store.New(db)
	ctx := context.Background()
	here := &starter{}
	r := newRelay(t, s, here, inbox.Options{Batch: &inbox.BatchOptions{}, MaxAttempts: 2})
	keep := func(body string) int64 {
		t.Helper()
		id, err := r.Keep(ctx, store.InboxItem{Source: "a", Kind: "k", Body: []byte(body), ReceivedAt: time.Now()}, "read:"+body)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	one, two := keep(`{"n":1}`), keep(`{"n":2}`)
	if n, bytes := r.Kept(); n != 2 || bytes != 14 {
		t.Fatalf("kept %d callbacks of %d bytes, want 2 of 14", n, bytes)
	}
	if res, err := r.RelayOnce(ctx); err != nil || res.Done != 2 {
		t.Fatalf("relay = %+v, %v", res, err)
	}
	if reads, _ := here.counts(); reads != 0 || here.started[one][0] != `read:{"n":1}` || here.started[two][0] != `read:{"n":2}` {
		t.Errorf("the relay read %d bodies and started %v; want none read, each started from what the receiver read", reads, here.started)
	}
	if n, _ := r.Kept(); n != 0 {
		t.Errorf("%d callbacks still kept after they were handed over", n)
	}
	if st := r.Stats(); st != (inbox.Stats{ReadByReceiver: 2}) {
		t.Errorf("stats %+v; want 2 entries read by the receiver", st)
	}

	// Another process's relay holds nothing of what this receiver read: it reads the body.
	elsewhere := &starter{}
	three := keep(`{"n":3}`)
	if res, err := newRelay(t, s, elsewhere, inbox.Options{}).RelayOnce(ctx); err != nil || res.Done != 1 {
		t.Fatalf("the other relay = %+v, %v", res, err)
	}
	if reads, _ := elsewhere.counts(); reads != 1 || elsewhere.started[three][0] != `body:{"n":3}` {
		t.Errorf("the other relay read %d bodies and started %v; want the body read once", reads, elsewhere.started)
	}
	if n, _ := r.Kept(); n != 1 {
		t.Errorf("%d callbacks kept; want 1, the one the other relay handed over (it goes when it is a minute old)", n)
	}

	// A failed start keeps what was read for the retry; a dead letter forgets it.
	here.fail = func(store.InboxEntry) error { return errors.New("temporal down") }
	four := keep(`{"n":4}`)
	due := func() {
		if _, err := db.Exec(`UPDATE inbox SET next_attempt_at = now() WHERE id = $1`, four); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := r.RelayOnce(ctx); err != nil || res.Failed != 1 {
		t.Fatalf("failing relay = %+v, %v", res, err)
	}
	due()
	if res, err := r.RelayOnce(ctx); err != nil || res.Dead != 1 {
		t.Fatalf("second failure = %+v, %v; want a dead letter (MaxAttempts 2)", res, err)
	}
	if reads, _ := here.counts(); reads != 0 || len(here.started[four]) != 2 || here.started[four][1] != `read:{"n":4}` {
		t.Errorf("the retry read %d bodies, started %v", reads, here.started[four])
	}
	if n, _ := r.Kept(); n != 1 {
		t.Errorf("%d callbacks kept after the last became a dead letter; want only the one the other relay handed over", n)
	}
	if _, err := s.ReplayInbox(ctx, four); err != nil {
		t.Fatal(err)
	}
	here.fail = nil
	if res, err := r.RelayOnce(ctx); err != nil || res.Done != 1 {
		t.Fatalf("relay after the replay = %+v, %v", res, err)
	}
	if reads, _ := here.counts(); reads != 1 || here.started[four][2] != `body:{"n":4}` {
		t.Errorf("after the replay the relay read %d bodies and started %v; want the body read", reads, here.started[four])
	}
}
