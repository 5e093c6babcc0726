package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/rudderhook/rudderhook/bench"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
	"github.com/rudderhook/rudderhook/workflows"
)

// BenchmarkReceive measures the receiver end to end on this machine: signed callbacks posted over HTTP
// by parallel clients, each answered 200 only once its workflow start is durable in the in-process
// Temporal server (temporal mode), then the time until every call's workflow has stored it in PostgreSQL.
//
//	go test ./integration -run '^$' -bench Receive -benchtime 2000x
func BenchmarkReceive(b *testing.B) {
	s := start(b, options{environ: []string{"RUDDERHOOK_ACK=temporal"}})
	var n atomic.Int64
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano())
	b.SetParallelism(4) // 4 × GOMAXPROCS concurrent senders
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := &http.Client{}
		for pb.Next() {
			id := prefix + fmt.Sprint(n.Add(1))
			body := signed(b, func(_ map[string]any, d []any) []any { return []any{detailCopy(d, id)} })
			req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/airudder/call-completed", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
			}
		}
	})
	accepted := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")

	// Wait until every call is stored: the rate the whole pipeline sustains.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for {
		var stored int64
		if err := s.db.GetContext(ctx, &stored, "SELECT count(*) FROM calls c JOIN subjects s ON s.id = c.subject_id WHERE s.subject_key LIKE $1", prefix+"%"); err != nil {
			b.Fatal(err)
		}
		if stored == int64(b.N) {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("only %d of %d calls stored", stored, b.N)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "stored/s")
}

// A deployment on TEMPORAL_TASK_QUEUE starts and runs its workflows on that queue and polls no other:
// what keeps the bench's serve and worker apart from a deployment's in a namespace they share.
func TestATaskQueueOfItsOwn(t *testing.T) {
	const queue = "rudderhook-bench-itest"
	s := start(t, options{environ: []string{"TEMPORAL_TASK_QUEUE=" + queue}})
	if code, body := s.post("airudder", signed(t, nil), "application/json"); code != http.StatusOK {
		t.Fatalf("post: %d %s", code, body)
	}
	id := "call/airudder/" + seedCallID
	s.waitWorkflow(id)
	ctx := context.Background()
	d, err := s.client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if q := d.GetExecutionConfig().GetTaskQueue().GetName(); q != queue {
		t.Errorf("the call's workflow ran on task queue %q, want %q", q, queue)
	}
	if n := s.count("calls"); n != 1 {
		t.Errorf("%d calls stored, want 1", n)
	}
	for _, typ := range []enums.TaskQueueType{enums.TASK_QUEUE_TYPE_WORKFLOW, enums.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := s.client.DescribeTaskQueue(ctx, workflows.TaskQueue, typ)
		if err != nil {
			t.Fatal(err)
		}
		if p := resp.GetPollers(); len(p) > 0 {
			t.Errorf("the worker polls rudderhook's own task queue too (%s): %v", typ, p)
		}
	}
}

// The bench refuses a Temporal where workers poll the production task queue (a deployment works there),
// before it makes anything; --force lets it go on, and still it leaves the database --database-url names
// alone.
func TestBenchRefusesANamespaceWhereProductionWorkersPoll(t *testing.T) {
	s := start(t, options{}) // its worker polls rudderhook's task queue, as a deployment's does
	ctx := context.Background()
	kept := storetest.URL(t)
	opts := bench.Options{
		TemporalAddress: s.temporal.FrontendAddr, Namespace: "default", N: 1, Concurrency: 1, DatabaseURL: kept,
		Binary: filepath.Join(t.TempDir(), "no-such-rudderhook"), Log: testLogger(t),
	}
	if _, _, err := bench.Run(ctx, opts); !errors.Is(err, bench.ErrProductionQueuePolled) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("bench beside a deployment's worker: %v, want a refusal that says --force", err)
	}
	opts.Force = true
	_, _, err := bench.Run(ctx, opts)
	if err == nil || errors.Is(err, bench.ErrProductionQueuePolled) || !strings.Contains(err.Error(), "no-such-rudderhook") {
		t.Fatalf("bench --force: %v, want it past the check, failing to start its worker from the missing binary", err)
	}
	db, err := store.Open(ctx, kept)
	if err != nil {
		t.Fatalf("the database --database-url names: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM calls`); err != nil {
		t.Errorf("the database --database-url names was emptied: %v", err)
	}
}
