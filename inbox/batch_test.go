package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/inbox"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// Concurrent callers share commits: every item is in the inbox once, in fewer commits than items, and
// each caller gets the ID of its own item.
func TestBatcherGroupsConcurrentCommits(t *testing.T) {
	t.Parallel()
	db := storetest.DB(t)
	s := store.New(db)
	ctx := context.Background()
	b := inbox.NewBatcher(s, inbox.BatchOptions{MaxWait: 20 * time.Millisecond, MaxBatch: 16})
	defer b.Close()
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	ids := make([]int64, n)
	for i := range n {
		wg.Go(func() {
			ids[i], errs[i] = b.Add(ctx, store.InboxItem{Source: "airudder", Kind: "any-kind", Body: fmt.Appendf(nil, `{"n":%d}`, i), ReceivedAt: time.Now()})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	batches, rows := b.Stats()
	if rows != n || batches >= n || batches < n/16 {
		t.Errorf("%d rows in %d batches; want %d rows in [%d, %d) batches", rows, batches, n, n/16, n)
	}
	for i, id := range ids {
		var body string
		if err := db.GetContext(ctx, &body, `SELECT convert_from(body, 'UTF8') FROM inbox WHERE id = $1 AND kind = 'any-kind'`, id); err != nil || body != fmt.Sprintf(`{"n":%d}`, i) {
			t.Errorf("caller %d got ID %d, which holds %q (%v)", i, id, body, err)
		}
	}
	if st, err := s.InboxStatus(ctx); err != nil || st.Pending != n || st.Dead != 0 || st.OldestPending == nil || st.OldestAge(time.Now()) <= 0 {
		t.Errorf("inbox status %+v, %v", st, err)
	}
}

// A failed commit fails every caller of its batch: a callback is acknowledged if and only if it is in
// the inbox. (The committers are held while the three arrive, so they usually share one batch; the
// property holds however they are grouped.)
func TestBatcherFailsEveryWaiter(t *testing.T) {
	t.Parallel()
	db := storetest.DB(t)
	s := store.New(db)
	if _, err := db.Exec(`ALTER TABLE inbox ADD CONSTRAINT no_bad CHECK (body <> '\x626164'::bytea)`); err != nil { // "bad"
		t.Fatal(err)
	}
	b := inbox.NewBatcher(s, inbox.BatchOptions{MaxWait: time.Minute, MaxBatch: 3})
	defer b.Close()
	release := b.HoldCommitters()
	var wg sync.WaitGroup
	bodies := []string{"good", "bad", "fine"}
	errs := make([]error, len(bodies))
	for i, body := range bodies {
		wg.Go(func() {
			_, errs[i] = b.Add(context.Background(), store.InboxItem{Source: "a", Kind: "k", Body: []byte(body), ReceivedAt: time.Now()})
		})
	}
	time.AfterFunc(50*time.Millisecond, release)
	wg.Wait()
	if errs[1] == nil {
		t.Error("the body the database refuses was acknowledged")
	}
	for i, body := range bodies {
		var stored int
		if err := db.Get(&stored, `SELECT count(*) FROM inbox WHERE body = $1`, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if (errs[i] == nil) != (stored == 1) {
			t.Errorf("%s: acknowledged %v, stored %d times", body, errs[i] == nil, stored)
		}
	}
}

// A commit is bounded by bytes as well as by count: small bodies share commits only up to MaxBytes in
// all, and a body larger than the bound commits alone, so that one large callback can neither make a
// statement PostgreSQL refuses (a parameter of more than 1 GB) nor fail the callbacks that would have
// shared its commit. Rows written by one statement share its transaction ID (xmin), which is how the test
// sees the batches. (The committers are held while the bodies arrive, so they queue together; the bound
// holds however they are grouped.)
func TestBatcherBoundsCommitsByBytes(t *testing.T) {
	t.Parallel()
	db := storetest.DB(t)
	s := store.New(db)
	const bound = 1024
	b := inbox.NewBatcher(s, inbox.BatchOptions{MaxWait: time.Minute, MaxBatch: 16, MaxBytes: bound})
	defer b.Close()
	release := b.HoldCommitters()
	bodies := [][]byte{[]byte(`{"large":"` + strings.Repeat("x", 4*bound) + `"}`)}
	for i := range 6 {
		bodies = append(bodies, fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("y", 300)))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(bodies))
	for i, body := range bodies {
		wg.Go(func() {
			_, errs[i] = b.Add(context.Background(), store.InboxItem{Source: "a", Kind: "k", Body: body, ReceivedAt: time.Now()})
		})
	}
	time.AfterFunc(50*time.Millisecond, release)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var commits []struct {
		Rows    int `db:"rows"`
		Bytes   int `db:"bytes"`
		Largest int `db:"largest"`
	}
	if err := db.Select(&commits, `SELECT count(*) AS rows, sum(length(body)) AS bytes, max(length(body)) AS largest
FROM inbox GROUP BY xmin::text::bigint ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, c := range commits {
		rows += c.Rows
		if c.Largest > bound && c.Rows != 1 {
			t.Errorf("a body of %d bytes shared its commit with %d others; a body over the bound commits alone", c.Largest, c.Rows-1)
		}
		if c.Largest <= bound && c.Bytes > bound {
			t.Errorf("a commit held %d bodies of %d bytes in all; want at most %d", c.Rows, c.Bytes, bound)
		}
	}
	if rows != len(bodies) {
		t.Errorf("%d rows stored, want %d", rows, len(bodies))
	}
	if _, n := b.Stats(); n != int64(len(bodies)) || len(commits) < 3 {
		t.Errorf("%d rows in %d commits; want %d rows in at least 3 (the large one alone, then at most 3 small ones each)", n, len(commits), len(bodies))
	}
}

// The relays hear of every commit: Listen wakes once it listens, then at each commit to the inbox.
func TestListenWakesAtEachCommit(t *testing.T) {
	t.Parallel()
	url := storetest.URL(t)
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := store.New(db)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := inbox.Listen(ctx, url, slogDiscard())
	woken := func(what string) {
		t.Helper()
		select {
		case <-wake:
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake-up %s", what)
		}
	}
	woken("once listening")
	b := inbox.NewBatcher(s, inbox.BatchOptions{})
	defer b.Close()
	for i := range 2 {
		if _, err := b.Add(ctx, store.InboxItem{Source: "a", Kind: "k", Body: []byte(`{}`), ReceivedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		woken(fmt.Sprintf("after commit %d", i+1))
	}
}
