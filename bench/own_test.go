package bench

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// The bench makes a database of its own on the server --database-url names, leaves the database the URL
// names as it was, drops what it made when it ends, and refuses to drop anything else.
func TestBenchDropsOnlyTheDatabaseItMade(t *testing.T) {
	ctx := context.Background()
	kept := storetest.URL(t) // someone's database, which --database-url happens to name
	keptDB, err := store.Open(ctx, kept)
	if err != nil {
		t.Fatal(err)
	}
	defer keptDB.Close()
	if _, err := keptDB.ExecContext(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	admin, err := store.Open(ctx, storetest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	exists := func(name string) bool {
		t.Helper()
		var n int
		if err := admin.GetContext(ctx, &n, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	stillKept := func() {
		t.Helper()
		var v int
		if err := keptDB.GetContext(ctx, &v, `SELECT v FROM kept`); err != nil || v != 42 {
			t.Fatalf("the database --database-url names lost its data: %d, %v", v, err)
		}
	}

	db, dsn, drop, err := ownDatabase(ctx, kept, func(msg string, args ...any) { t.Log(append([]any{msg}, args...)...) })
	if err != nil {
		t.Fatal(err)
	}
	name := databaseName(t, dsn)
	if !OwnsDatabase(name) || !strings.HasPrefix(name, DatabasePrefix) || name == databaseName(t, kept) {
		t.Fatalf("the bench's database is %q", name)
	}
	var calls int
	if err := db.GetContext(ctx, &calls, `SELECT count(*) FROM calls`); err != nil {
		t.Errorf("the bench's database is not migrated: %v", err)
	}
	stillKept()
	drop()
	if exists(name) {
		t.Errorf("the bench's database %s is still there after the run", name)
	}
	stillKept()

	if err := dropOwnDatabase(ctx, kept); err == nil || !strings.Contains(err.Error(), "drops only the databases it made") {
		t.Errorf("dropping %s: %v, want a refusal", databaseName(t, kept), err)
	}
	stillKept()
	for name, owned := range map[string]bool{
		DatabasePrefix + "0123456789abcdef": true, "rudderhook_bench": false, "rudderhook": false,
		DatabasePrefix + "0123456789abcdef_x": false, DatabasePrefix + "production": false,
	} {
		if OwnsDatabase(name) != owned {
			t.Errorf("OwnsDatabase(%q) = %v", name, !owned)
		}
	}
}

func databaseName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// The bench's task queue is its own on every run, and it is what serve and worker are given.
func TestBenchRunsOnATaskQueueOfItsOwn(t *testing.T) {
	a, b := ownTaskQueue(), ownTaskQueue()
	if a == b || !strings.HasPrefix(a, "rudderhook-bench-") {
		t.Errorf("queues %q, %q", a, b)
	}
	st := &runState{queue: a, key: "k", dsn: "postgres://x/" + DatabasePrefix + "0123456789abcdef", dir: t.TempDir(), sink: newSink()}
	defer st.sink.Close()
	env, err := st.env()
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(env, "\n")
	if !strings.Contains(joined, "TEMPORAL_TASK_QUEUE="+a+"\n") || !strings.Contains(joined, "DATABASE_URL="+st.dsn+"\n") {
		t.Errorf("serve and worker are given:\n%s", joined)
	}
}

// The bench's serve and worker start on the configuration it gives them (no key or token that they refuse),
// and its worker may send to the bench's sink, which listens on this machine's loopback: follow-ups
// leave only for public addresses unless a target says allow_private.
func TestBenchsProcessesStartAndReachTheSink(t *testing.T) {
	st := &runState{opts: Options{Namespace: "default"}, dir: t.TempDir(), queue: ownTaskQueue(), key: randomHex(16), sink: newSink(),
		dsn: "postgres://postgres@127.0.0.1:5432/" + DatabasePrefix + "0123456789abcdef?sslmode=disable", addr: "127.0.0.1:7233"}
	defer st.sink.Close()
	env, err := st.env()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(env, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []config.Process{config.Serve, config.Worker} {
		if err := cfg.CheckProduction(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	sink := cfg.Targets["sink"]
	if sink == nil {
		t.Fatal("no target sink")
	}
	if err := sink.Policy(cfg.RuleURLs()).CheckURL(st.sink.URL); err != nil {
		t.Errorf("the worker may not send to the bench's sink at %s: %v", st.sink.URL, err)
	}
}
