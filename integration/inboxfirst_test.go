package integration

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/bench"
	"github.com/rudderhook/rudderhook/inbox"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/workflows"
)

// inboxService is the ingest service of an inbox-mode system (of one process of it), with its own inbox:
// its group commit (opts.Batch, or the defaults) and its relay (4 starts at once unless opts says).
func (s *system) inboxService(c client.Client, opts inbox.Options) *ingest.Service {
	svc := &ingest.Service{Temporal: c, Store: s.store, Sources: s.cfg.Sources, Log: testLogger(s.t), Parallelism: 4}
	if opts.Batch == nil {
		opts.Batch = &inbox.BatchOptions{}
	}
	opts.Concurrency = cmp.Or(opts.Concurrency, 4)
	s.t.Cleanup(svc.UseInbox(opts).Close)
	return svc
}

// runRelay runs svc's relay until the returned stop is called (or the test ends).
func (s *system) runRelay(svc *ingest.Service, interval time.Duration, wake <-chan struct{}) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Inbox().Run(ctx, interval, wake) })
	stop = func() { cancel(); wg.Wait() }
	s.t.Cleanup(stop)
	return stop
}

// postAll posts bodies to the default source, concurrency at a time, and fails unless each is 200 {}.
func (s *system) postAll(bodies [][]byte, concurrency int) {
	s.t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	answers := make([]string, len(bodies))
	for i, b := range bodies {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			status, body := s.postQuietly("airudder", b)
			if status != http.StatusOK || string(body) != "{}" {
				answers[i] = http.StatusText(status) + " " + string(body)
			}
		})
	}
	wg.Wait()
	for i, a := range answers {
		if a != "" {
			s.t.Errorf("callback %d answered %s, want 200 {}", i, a)
		}
	}
}

// postQuietly is post from another goroutine: it reports a transport error as status 0.
func (s *system) postQuietly(source string, body []byte) (int, []byte) {
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/"+source+"/call-completed", bytes.NewReader(body))
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	var buf [512]byte
	n, _ := resp.Body.Read(buf[:])
	return resp.StatusCode, buf[:n]
}

// signals counts the revisions handed to the latest run of a subject's workflow: each start or signal is
// one WorkflowExecutionSignaled event.
func (s *system) signals(workflowID string) int {
	s.t.Helper()
	return s.events(workflowID, enums.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
}

// events counts the events of a type in the history of the latest run of a workflow.
func (s *system) events(workflowID string, typ enums.EventType) int {
	s.t.Helper()
	it := s.client.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			s.t.Fatalf("history of %s: %v", workflowID, err)
		}
		if e.GetEventType() == typ {
			n++
		}
	}
	return n
}

// An acknowledged callback is in the inbox, and the relay starts its workflow as soon as the commit is
// notified: it polls only hourly here, so nothing else explains the start.
func TestInboxModeAckThenWorkflowStartByNotify(t *testing.T) {
	t.Parallel()
	s := start(t, options{noRelay: true})
	svc := s.inboxService(s.client, inbox.Options{})
	s.serve(svc)
	listenCtx, stopListening := context.WithCancel(context.Background())
	t.Cleanup(stopListening)
	wake := inbox.Listen(listenCtx, s.dbURL, testLogger(t))
	<-wake // listening (the first wake says so): every commit from now on is heard

	bodies, err := bench.MakeBodies("notify", 2, airudder.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	// The first callback is answered from the inbox before any relay runs.
	s.postAll(bodies.Bodies[:1], 1)
	if n := s.count("inbox"); n != 1 {
		t.Fatalf("inbox holds %d callbacks after the ack, want 1", n)
	}
	s.runRelay(svc, time.Hour, wake)
	s.waitWorkflow(workflows.CallWorkflowID("airudder", bodies.IDs[0]))
	// The relay is idle now, its next poll an hour away: only the notification of the second commit can
	// wake it.
	s.postAll(bodies.Bodies[1:], 1)
	s.waitWorkflow(workflows.CallWorkflowID("airudder", bodies.IDs[1]))
	s.waitRows(`SELECT count(*) FROM inbox`, 0) // the relay deletes an entry once its starts returned
	if calls := s.count("calls"); calls != 2 {
		t.Errorf("calls = %d, want 2", calls)
	}
	// Every call is in the Temporal UI once its workflow starts, and the backlog is visible.
	s.listed(`WorkflowType = "SubjectWorkflow" AND Kind = "call_completed" AND Source = "airudder"`, 2)
	status, body := s.get("/v1/inbox/status")
	var st struct{ Pending, Dead *int64 }
	if err := json.Unmarshal(body, &st); status != http.StatusOK || err != nil || st.Pending == nil || *st.Pending != 0 || *st.Dead != 0 {
		t.Errorf("GET /v1/inbox/status = %d %s", status, body)
	}
}

// Concurrent callbacks share commits: each is in the inbox once, in fewer transactions than callbacks.
func TestInboxModeGroupCommit(t *testing.T) {
	t.Parallel()
	s := start(t, options{noWorker: true, noRelay: true})
	svc := s.inboxService(s.client, inbox.Options{Batch: &inbox.BatchOptions{MaxWait: 20 * time.Millisecond, MaxBatch: 64}})
	s.serve(svc)
	const n = 64
	bodies, err := bench.MakeBodies("group", n, airudder.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	s.postAll(bodies.Bodies, n)
	batches, rows := svc.Inbox().Batcher().Stats()
	if rows != n || batches >= n {
		t.Errorf("%d callbacks in %d commits; want %d in fewer", rows, batches, n)
	}
	var kept [][]byte
	if err := s.db.Select(&kept, `SELECT body FROM inbox`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, b := range kept {
		var cb struct {
			Sign    *string
			Details []struct{ CallID string }
		}
		if err := json.Unmarshal(b, &cb); err != nil || len(cb.Details) != 1 || cb.Sign != nil {
			t.Fatalf("inbox body %s: %v (want one call, no Sign)", b, err)
		}
		seen[cb.Details[0].CallID]++
	}
	for _, id := range bodies.IDs {
		if seen[id] != 1 {
			t.Errorf("call %s is in the inbox %d times, want once", id, seen[id])
		}
	}
}

// Two relays (two serve replicas) drain one backlog between them: every entry is handed to Temporal
// once, and every call's workflow gets its revision once.
func TestInboxModeTwoRelaysShareTheBacklog(t *testing.T) {
	t.Parallel()
	s := start(t, options{noWorker: true, noRelay: true}) // no worker: workflows stay open, signals countable
	s.serve(s.inboxService(s.client, inbox.Options{}))
	const n = 40
	bodies, err := bench.MakeBodies("shared", n, airudder.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	s.postAll(bodies.Bodies, 8)
	if got := s.count("inbox"); got != n {
		t.Fatalf("inbox holds %d, want %d", got, n)
	}

	var wg sync.WaitGroup
	done := make([]int, 2)
	for r := range 2 {
		relay := s.inboxService(s.client, inbox.Options{Limit: 3}).Inbox() // small claims, so that the two interleave
		wg.Go(func() {
			for {
				var left int
				if err := s.db.Get(&left, `SELECT count(*) FROM inbox`); err != nil || left == 0 {
					return
				}
				res, err := relay.RelayOnce(context.Background())
				if err != nil {
					t.Errorf("relay %d: %v", r, err)
					return
				}
				done[r] += res.Done
			}
		})
	}
	wg.Wait()
	if done[0]+done[1] != n {
		t.Errorf("relays handed over %d + %d entries, want %d in all", done[0], done[1], n)
	}
	for _, id := range bodies.IDs {
		if got := s.signals(workflows.CallWorkflowID("airudder", id)); got != 1 {
			t.Errorf("call %s: %d revisions handed to its workflow, want 1", id, got)
		}
	}
}

// With Temporal down, callbacks are still acknowledged (from the inbox) and the relay's attempts fail;
// once Temporal is back the backlog drains and every call is stored once.
func TestInboxModeTemporalDownThenUp(t *testing.T) {
	t.Parallel()
	s := start(t, options{noRelay: true})
	down := s.inboxService(unreachableTemporal(t), inbox.Options{StartTimeout: 300 * time.Millisecond})
	down.StartTimeout = 300 * time.Millisecond
	s.serve(down)
	stopDown := s.runRelay(down, 100*time.Millisecond, nil)
	const n = 5
	bodies, err := bench.MakeBodies("outage", n, airudder.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	s.postAll(bodies.Bodies, n)
	s.waitRows(`SELECT count(*) FROM inbox WHERE attempts > 0 AND last_error <> ''`, n) // tried, and failed
	stopDown()

	up := s.inboxService(s.client, inbox.Options{})
	s.serve(up)
	s.runRelay(up, 100*time.Millisecond, nil)
	for _, id := range bodies.IDs {
		s.waitWorkflow(workflows.CallWorkflowID("airudder", id))
	}
	s.waitRows(`SELECT count(*) FROM inbox`, 0)
	if calls := s.count("calls"); calls != n {
		t.Errorf("calls = %d, want %d", calls, n)
	}
}

// countingPayloads is Temporal's default data converter, counting the workflow inputs it encodes.
func countingPayloads(n *atomic.Int64) converter.DataConverter {
	return converter.NewCompositeDataConverter(converter.NewNilPayloadConverter(), converter.NewByteSlicePayloadConverter(),
		converter.NewProtoJSONPayloadConverter(), converter.NewProtoPayloadConverter(), countingJSON{converter.NewJSONPayloadConverter(), n})
}

type countingJSON struct {
	converter.PayloadConverter
	n *atomic.Int64
}

func (c countingJSON) ToPayload(v any) (*commonpb.Payload, error) {
	if _, ok := v.(workflows.SubjectInput); ok {
		c.n.Add(1)
	}
	return c.PayloadConverter.ToPayload(v)
}

// A callback is read once in the process that receives it: the relay of that process starts its
// workflows from what the receiver read, and its body is encoded once (for the inbox) and each subject's
// input once (for Temporal, as both the signal's argument and the start's input). The relay of another
// process, which holds nothing of it, reads the body from the inbox and starts it all the same. The
// receiver's work is done here as api does it (ingest.Read, then Accept), so that each read is counted.
func TestInboxReadsEachCallbackOnceInItsProcess(t *testing.T) {
	t.Parallel()
	s := start(t, options{noRelay: true}) // the relays here are the test's own
	var encoded, encodedByClient atomic.Int64
	c, err := client.DialContext(context.Background(), client.Options{HostPort: s.temporal.FrontendAddr, DataConverter: countingPayloads(&encodedByClient)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	src := s.cfg.Sources[airudder.DefaultKey]
	k, _ := src.Kind(airudder.KindCallCompleted)
	// receive does what the receiver does with a body, counting the reads and the encodes of the body.
	var reads, bodyEncodes int
	receive := func(svc *ingest.Service, body []byte) {
		t.Helper()
		reads++
		cb, err := ingest.Read(body, src, k, ingest.VerifySign, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		unsigned := cb.Unsigned
		cb.Unsigned = func() ([]byte, error) { bodyEncodes++; return unsigned() }
		if err := svc.Accept(context.Background(), cb); err != nil {
			t.Fatal(err)
		}
	}
	const n = 4
	bodies, err := bench.MakeBodies("once", 2*n, airudder.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}

	here := s.inboxService(c, inbox.Options{})
	here.Payloads = countingPayloads(&encoded)
	for _, b := range bodies.Bodies[:n] {
		receive(here, b)
	}
	if res, err := here.Inbox().RelayOnce(context.Background()); err != nil || res.Done != n {
		t.Fatalf("relay = %+v, %v", res, err)
	}
	parses := reads + int(here.Inbox().Stats().ReadByRelay)
	t.Logf("the same process, %d callbacks of one call: %d parses (%d by the relay), %d encodes of bodies, %d of workflow inputs (%d more by the client)",
		n, parses, here.Inbox().Stats().ReadByRelay, bodyEncodes, encoded.Load(), encodedByClient.Load())
	if parses != n || here.Inbox().Stats() != (inbox.Stats{ReadByReceiver: n}) || bodyEncodes != n || encoded.Load() != n || encodedByClient.Load() != 0 {
		t.Errorf("%d callbacks read %d times (relay stats %+v), their bodies encoded %d times, their inputs %d times (and %d by the client); want each once",
			n, parses, here.Inbox().Stats(), bodyEncodes, encoded.Load(), encodedByClient.Load())
	}

	// Another process's relay: it reads each body from the inbox.
	for _, b := range bodies.Bodies[n:] {
		receive(here, b)
	}
	elsewhere := s.inboxService(c, inbox.Options{})
	if res, err := elsewhere.Inbox().RelayOnce(context.Background()); err != nil || res.Done != n {
		t.Fatalf("the other relay = %+v, %v", res, err)
	}
	if st := elsewhere.Inbox().Stats(); st != (inbox.Stats{ReadByRelay: n}) {
		t.Errorf("the other relay took up %+v; want %d read by it", st, n)
	}
	for _, id := range bodies.IDs {
		s.waitWorkflow(workflows.CallWorkflowID("airudder", id))
		if got := s.signals(workflows.CallWorkflowID("airudder", id)); got != 1 {
			t.Errorf("call %s: %d revisions handed to its workflow, want 1", id, got)
		}
	}
	if calls, inboxRows := s.count("calls"), s.count("inbox"); calls != 2*n || inboxRows != 0 {
		t.Errorf("calls = %d, inbox = %d; want %d, 0", calls, inboxRows, 2*n)
	}
}
