package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// A batch is committed in one statement that returns each item's ID in the order of the items (the
// relay keeps what a receiver read under that ID), and notifies the relays on the inbox channel.
func TestInboxBatchReturnsTheIDsOfItsItemsInOrder(t *testing.T) {
	t.Parallel()
	url := storetest.URL(t)
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := store.New(db)
	ctx := context.Background()
	l := pq.NewListener(url, time.Millisecond, time.Second, nil)
	defer l.Close()
	if err := l.Listen(store.InboxChannel); err != nil {
		t.Fatal(err)
	}
	// Another commit first, so that the batch's IDs do not start at 1.
	if _, err := s.AddToInbox(ctx, "a", "k", []byte(`{"before":1}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	var items []store.InboxItem
	for i := range 200 {
		// Bodies that sort otherwise than they come (and two alike), so an order taken from anything but
		// the items' shows.
		items = append(items, store.InboxItem{Source: "a", Kind: fmt.Sprintf("k%d", i), Body: fmt.Appendf(nil, `{"n":%d}`, (i*7919)%199),
			ReceivedAt: time.Now().Add(-time.Duration(i) * time.Second)})
	}
	ids, err := s.AddToInboxBatch(ctx, items)
	if err != nil || len(ids) != len(items) {
		t.Fatalf("AddToInboxBatch = %d IDs, %v", len(ids), err)
	}
	for i, id := range ids {
		var got struct {
			Kind string `db:"kind"`
			Body []byte `db:"body"`
		}
		if err := db.GetContext(ctx, &got, `SELECT kind, body FROM inbox WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if got.Kind != items[i].Kind || !bytes.Equal(got.Body, items[i].Body) {
			t.Fatalf("ID %d (item %d) holds %s %s, want %s %s", id, i, got.Kind, got.Body, items[i].Kind, items[i].Body)
		}
	}
	for range 2 { // one notification per commit
		select {
		case note := <-l.Notify:
			if note == nil || note.Channel != store.InboxChannel {
				t.Errorf("notification %+v", note)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no notification on " + store.InboxChannel)
		}
	}
}

// A claim leases due entries to one owner, without their bodies; only that owner reads their bodies,
// extends their lease, deletes them or records a failure, and a failed entry waits for its backoff.
func TestInboxClaimLeasesEntriesToOneOwner(t *testing.T) {
	t.Parallel()
	db := storetest.DB(t)
	s := store.New(db)
	ctx := context.Background()
	one, _ := s.AddToInbox(ctx, "a", "k", []byte(`{"n":1}`), time.Now())
	two, _ := s.AddToInbox(ctx, "a", "k", []byte(`{"n":2}`), time.Now())
	claimed, err := s.ClaimInbox(ctx, 10, time.Minute, "a")
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim = %+v, %v", claimed, err)
	}
	for _, e := range claimed {
		if e.Body != nil || e.BodyBytes != 7 || e.Attempts != 1 || e.LeaseOwner != "a" {
			t.Errorf("claimed %+v; want no body, its size, attempt 1, owner a", e)
		}
	}
	if again, err := s.ClaimInbox(ctx, 10, time.Minute, "b"); err != nil || len(again) != 0 {
		t.Errorf("a second claim took %d leased entries, %v", len(again), err)
	}
	if bodies, err := s.InboxBodies(ctx, []int64{one, two}, "b"); err != nil || len(bodies) != 0 {
		t.Errorf("another owner read bodies %v, %v", bodies, err)
	}
	bodies, err := s.InboxBodies(ctx, []int64{one, two}, "a")
	if err != nil || string(bodies[one]) != `{"n":1}` || string(bodies[two]) != `{"n":2}` {
		t.Errorf("bodies = %s, %s, %v", bodies[one], bodies[two], err)
	}
	leasedFor := func(id int64) time.Duration {
		var d float64
		if err := db.GetContext(ctx, &d, `SELECT extract(epoch FROM next_attempt_at - now()) FROM inbox WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return time.Duration(d * float64(time.Second))
	}
	if err := s.ExtendInboxLease(ctx, []int64{one, two}, "b", time.Hour); err != nil || leasedFor(one) > time.Minute {
		t.Errorf("another owner extended the lease (%v left), %v", leasedFor(one), err)
	}
	if err := s.ExtendInboxLease(ctx, []int64{one, two}, "a", time.Hour); err != nil || leasedFor(one) < 59*time.Minute {
		t.Errorf("the owner's extension left %v, %v", leasedFor(one), err)
	}
	if err := s.DeleteInboxEntry(ctx, one, "b"); err != nil || countInbox(t, s) != 2 {
		t.Errorf("another owner deleted an entry (%v)", err)
	}
	if err := s.DeleteInboxEntry(ctx, one, "a"); err != nil || countInbox(t, s) != 1 {
		t.Errorf("the owner did not delete its entry (%v)", err)
	}
	if state, err := s.FailInboxEntry(ctx, two, "b", store.InboxFailure{Error: "x", MaxAttempts: 5, MaxAge: time.Hour}); state != "" || err != nil {
		t.Errorf("another owner failed the entry: %q, %v", state, err)
	}
	state, err := s.FailInboxEntry(ctx, two, "a", store.InboxFailure{Error: "temporal down", MaxAttempts: 5, MaxAge: time.Hour, Backoff: time.Hour})
	if err != nil || state != store.InboxPending {
		t.Fatalf("fail = %q, %v", state, err)
	}
	if again, err := s.ClaimInbox(ctx, 10, time.Minute, "b"); err != nil || len(again) != 0 {
		t.Errorf("an entry was claimed during its backoff: %+v, %v", again, err)
	}
	listed, _, _ := s.ListInbox(ctx, store.InboxFilter{Limit: 10})
	if len(listed) != 1 || listed[0].LastError != "temporal down" || listed[0].LeaseOwner != "" || listed[0].State != store.InboxPending {
		t.Errorf("after the failure: %+v", listed)
	}
}

func countInbox(t *testing.T, s *store.Store) int64 {
	t.Helper()
	st, err := s.InboxStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Pending + st.Dead
}

// A failure makes an entry a dead letter when it is permanent, when the entry has used its attempts or
// its age; dead letters are listed page by page, no longer claimed, and replayed one at a time.
func TestInboxFailuresMakeDeadLetters(t *testing.T) {
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
	if claimed, err := s.ClaimInbox(ctx, 10, time.Minute, "o"); err != nil || len(claimed) != 4 {
		t.Fatalf("claim = %d, %v", len(claimed), err)
	}
	want := map[int64]string{old: store.InboxDead, tried: store.InboxDead, broken: store.InboxDead, fresh: store.InboxPending}
	for id, w := range want {
		f := store.InboxFailure{Error: "temporal down", Permanent: id == broken, MaxAttempts: 5, MaxAge: 72 * time.Hour}
		if id == broken {
			f.Error = "unknown kind"
		}
		if state, err := s.FailInboxEntry(ctx, id, "o", f); err != nil || state != w {
			t.Errorf("entry %d: %q, %v; want %q", id, state, err, w)
		}
	}
	deadOnes, next, err := s.ListInbox(ctx, store.InboxFilter{State: store.InboxDead, Limit: 2})
	if err != nil || len(deadOnes) != 2 || next == 0 || deadOnes[0].ID != broken || deadOnes[0].LastError != "unknown kind" || deadOnes[0].DeadAt == nil {
		t.Fatalf("dead page 1 = %+v, next %d, %v", deadOnes, next, err)
	}
	rest, next, _ := s.ListInbox(ctx, store.InboxFilter{State: store.InboxDead, Limit: 2, Before: next})
	if len(rest) != 1 || rest[0].ID != old || next != 0 {
		t.Errorf("dead page 2 = %+v, next %d", rest, next)
	}
	if _, err := db.Exec(`UPDATE inbox SET next_attempt_at = now()`); err != nil { // every backoff over
		t.Fatal(err)
	}
	if claimed, err := s.ClaimInbox(ctx, 10, time.Minute, "p"); err != nil || len(claimed) != 1 || claimed[0].ID != fresh {
		t.Fatalf("claim after the failures = %+v, %v; want only the pending entry", claimed, err)
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
	if claimed, err := s.ClaimInbox(ctx, 10, time.Minute, "q"); err != nil || len(claimed) != 1 || claimed[0].ID != tried {
		t.Errorf("claim after the replay = %+v, %v; want only the replayed entry (the dead stay dead)", claimed, err)
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
	fail := func(owner string) string {
		t.Helper()
		if claimed, err := s.ClaimInbox(ctx, 10, time.Minute, owner); err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %+v, %v", claimed, err)
		}
		state, err := s.FailInboxEntry(ctx, id, owner, store.InboxFailure{Error: "temporal down", MaxAttempts: 100, MaxAge: 72 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return state
	}
	if state := fail("a"); state != store.InboxDead {
		t.Fatalf("first failure: %q; want the old entry dead of age", state)
	}
	replayed, err := s.ReplayInbox(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.ReplayedAt == nil || time.Since(*replayed.ReplayedAt) > time.Minute || !replayed.ReceivedAt.Equal(arrived) {
		t.Errorf("replayed entry: received %v, replayed %v; want received %v kept and replayed now", replayed.ReceivedAt, replayed.ReplayedAt, arrived)
	}
	if state := fail("b"); state != store.InboxPending {
		t.Fatalf("after the replay, a failed attempt gave %q; want the entry pending (its age counts from the replay)", state)
	}
	e, _, err := s.ListInbox(ctx, store.InboxFilter{Limit: 10})
	if err != nil || len(e) != 1 || e[0].State != store.InboxPending || !e[0].ReceivedAt.Equal(arrived) {
		t.Errorf("inbox after the retry: %+v, %v", e, err)
	}
}

// The admin listing, a replay and a relay's claim read each entry's size, not its body (up to a few MiB
// of personal data each), and every other column as it is.
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
	claimed, err := s.ClaimInbox(ctx, 10, time.Minute, "o")
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimInbox = %d entries, %v", len(claimed), err)
	}
	for _, e := range claimed {
		same("claimed", e)
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
