package store_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

func TestInboxDrainDeletesAcceptedAndDelaysFailed(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	for _, body := range []string{`{"n":1}`, `{"n":2}`} {
		if _, err := s.AddToInbox(ctx, "airudder", "call-completed", []byte(body), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	res, err := s.DrainInbox(ctx, store.DrainOptions{}, func(_ context.Context, e store.InboxEntry) error {
		seen = append(seen, string(e.Body))
		if string(e.Body) == `{"n":2}` {
			return errors.New("temporal down")
		}
		return nil
	})
	if err != nil || res != (store.DrainResult{Done: 1, Failed: 1}) || len(seen) != 2 {
		t.Fatalf("result %+v, seen %v, err %v", res, seen, err)
	}
	// The failed one waits for its backoff, so a second pass right away finds nothing due.
	res, _ = s.DrainInbox(ctx, store.DrainOptions{}, func(context.Context, store.InboxEntry) error { return nil })
	st, _ := s.InboxStatus(ctx)
	if res.Done != 0 || st.Pending != 1 || st.Dead != 0 {
		t.Errorf("second pass %+v, pending %d, dead %d; want 0, 1, 0", res, st.Pending, st.Dead)
	}
}

// An entry that keeps failing becomes a dead letter (after its attempts, its age, or at once for a
// permanent failure), is listed, is no longer claimed, and can be replayed.
func TestInboxDeadLettersAndReplay(t *testing.T) {
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
	opts := store.DrainOptions{MaxAttempts: 5, MaxAge: 72 * time.Hour}
	res, err := s.DrainInbox(ctx, opts, func(_ context.Context, e store.InboxEntry) error {
		if e.ID == broken {
			return store.Permanent(errors.New("unknown kind"))
		}
		return errors.New("temporal down")
	})
	if err != nil || res != (store.DrainResult{Failed: 1, Dead: 3}) {
		t.Fatalf("result %+v, %v", res, err)
	}
	deadOnes, next, err := s.ListInbox(ctx, store.InboxFilter{State: store.InboxDead, Limit: 2})
	if err != nil || len(deadOnes) != 2 || next == 0 || deadOnes[0].ID != broken || deadOnes[0].LastError != "unknown kind" || deadOnes[0].DeadAt == nil {
		t.Fatalf("dead page 1 = %+v, next %d, %v", deadOnes, next, err)
	}
	rest, next, _ := s.ListInbox(ctx, store.InboxFilter{State: store.InboxDead, Limit: 2, Before: next})
	if len(rest) != 1 || rest[0].ID != old || next != 0 {
		t.Errorf("dead page 2 = %+v, next %d", rest, next)
	}
	if _, err := s.ReplayInbox(ctx, fresh); !errors.Is(err, store.ErrNotDead) {
		t.Errorf("replay of a pending entry: %v", err)
	}
	if _, err := s.ReplayInbox(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replay of nothing: %v", err)
	}
	e, err := s.ReplayInbox(ctx, tried)
	if err != nil || e.State != store.InboxPending || e.Attempts != 0 {
		t.Fatalf("replay = %+v, %v", e, err)
	}
	var handled []int64
	if _, err := s.DrainInbox(ctx, opts, func(_ context.Context, e store.InboxEntry) error {
		handled = append(handled, e.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(handled) != 1 || handled[0] != tried {
		t.Errorf("after replay the relay handled %v, want only %d (the dead stay dead)", handled, tried)
	}
}

// While one relay pass works through a slow batch, its lease is extended, so another pass claims nothing
// even after the first lease would have run out.
func TestInboxLeaseLastsAsLongAsTheWork(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	for range 3 {
		if _, err := s.AddToInbox(ctx, "airudder", "call-completed", []byte(`{}`), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	lease := 600 * time.Millisecond
	var second, first int
	_, err := s.DrainInbox(ctx, store.DrainOptions{Lease: lease}, func(context.Context, store.InboxEntry) error {
		first++
		time.Sleep(lease) // each entry takes as long as a whole lease: the last one waits for 3 leases
		res, err := s.DrainInbox(ctx, store.DrainOptions{Lease: lease}, func(context.Context, store.InboxEntry) error { second++; return nil })
		if err != nil || res.Done != 0 {
			t.Errorf("second relay: %+v, %v", res, err)
		}
		return nil
	})
	if err != nil || first != 3 || second != 0 {
		t.Errorf("err %v, first relay handled %d, second %d", err, first, second)
	}
	if st, _ := s.InboxStatus(ctx); st.Pending != 0 {
		t.Errorf("pending = %d after the first relay accepted every entry", st.Pending)
	}
}

// Replaying a dead letter resets its age: an entry that died of age (RUDDERHOOK_INBOX_MAX_AGE after it
// arrived) gets a whole MaxAge again from its replay, instead of dying again at its first failed attempt,
// and it keeps the time it arrived for operators.
func TestInboxReplayResetsTheAge(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	arrived := time.Now().Add(-100 * time.Hour).UTC().Truncate(time.Microsecond)
	id, err := s.AddToInbox(ctx, "airudder", "call-completed", []byte(`{"n":"old"}`), arrived)
	if err != nil {
		t.Fatal(err)
	}
	opts := store.DrainOptions{MaxAttempts: 100, MaxAge: 72 * time.Hour}
	fail := func(context.Context, store.InboxEntry) error { return errors.New("temporal down") }
	if res, err := s.DrainInbox(ctx, opts, fail); err != nil || res != (store.DrainResult{Dead: 1}) {
		t.Fatalf("first pass %+v, %v; want the old entry dead of age", res, err)
	}
	replayed, err := s.ReplayInbox(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.ReplayedAt == nil || time.Since(*replayed.ReplayedAt) > time.Minute || !replayed.ReceivedAt.Equal(arrived) {
		t.Errorf("replayed entry: received %v, replayed %v; want received %v kept and replayed now", replayed.ReceivedAt, replayed.ReplayedAt, arrived)
	}
	if res, err := s.DrainInbox(ctx, opts, fail); err != nil || res != (store.DrainResult{Failed: 1}) {
		t.Fatalf("after the replay, a failed attempt gave %+v, %v; want the entry pending (its age counts from the replay)", res, err)
	}
	e, _, err := s.ListInbox(ctx, store.InboxFilter{Limit: 10})
	if err != nil || len(e) != 1 || e[0].State != store.InboxPending || !e[0].ReceivedAt.Equal(arrived) {
		t.Errorf("inbox after the retry: %+v, %v", e, err)
	}
}

// The admin listing and a replay read each entry's size, not its body (up to a few MiB of personal data
// each), and every other column as it is.
func TestInboxListingReadsSizesNotBodies(t *testing.T) {
	t.Parallel()
	db := storetest.DB(t)
	s := store.New(db)
	ctx := context.Background()
	bodies := map[int64][]byte{}
	for _, body := range [][]byte{[]byte(`{"name":"Siti Aisyah Ramadhani"}`), bytes.Repeat([]byte(`{"x":"é"}`), 300_000)} {
		id, err := s.AddToInbox(ctx, "airudder", "call-completed", body, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		bodies[id] = body
	}
	// whole reads an entry with every column, its body included.
	whole := func(id int64) store.InboxEntry {
		var e store.InboxEntry
		if err := db.GetContext(ctx, &e, `SELECT *, octet_length(body) AS body_bytes FROM inbox WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return e
	}
	same := func(what string, got store.InboxEntry) {
		t.Helper()
		want := whole(got.ID)
		if !bytes.Equal(want.Body, bodies[got.ID]) || want.BodyBytes != len(bodies[got.ID]) {
			t.Fatalf("entry %d as stored: %d bytes, body_bytes %d", got.ID, len(want.Body), want.BodyBytes)
		}
		if got.Body != nil {
			t.Errorf("%s: entry %d was read with its body (%d bytes)", what, got.ID, len(got.Body))
			got.Body = nil
		}
		want.Body = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: entry %d\n got %+v\nwant %+v (every column but the body)", what, got.ID, got, want)
		}
	}
	listed, _, err := s.ListInbox(ctx, store.InboxFilter{Limit: 10})
	if err != nil || len(listed) != 2 {
		t.Fatalf("ListInbox = %d entries, %v", len(listed), err)
	}
	for _, e := range listed {
		same("listed", e)
	}
	var dead int64
	for id := range bodies {
		dead = max(dead, id)
	}
	if _, err := db.ExecContext(ctx, `UPDATE inbox SET state = 'dead', dead_at = now() WHERE id = $1`, dead); err != nil {
		t.Fatal(err)
	}
	replayed, err := s.ReplayInbox(ctx, dead)
	if err != nil {
		t.Fatal(err)
	}
	same("replayed", *replayed)
}
