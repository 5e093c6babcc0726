package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/api"
	"github.com/rudderhook/rudderhook/codec"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/devserver"
	"github.com/rudderhook/rudderhook/inbox"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/repair"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
	"github.com/rudderhook/rudderhook/ui"
	"github.com/rudderhook/rudderhook/worker"
)

const adminToken = "test-admin-token"

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	storetest.Main(m)
}

// system is one running rudderhook: its own Temporal server, database, worker and HTTP API.
type system struct {
	t        testing.TB
	temporal *devserver.Server
	client   client.Client
	db       *sqlx.DB
	dbURL    string
	store    *store.Store
	ingest   *ingest.Service
	http     *httptest.Server
	cfg      *config.Config

	// stopRelay stops the relay that runs for the system (nil: the test runs its own, or none).
	stopRelay func()

	mu        sync.Mutex
	exchanges []exchange // every request the API answered, checked against api/openapi.json at the end
}

type options struct {
	uiAddr   string
	dataDir  string
	noWorker bool
	// noRelay leaves the inbox to the test (RelayOnce, runRelay): by default a relay hands it to Temporal
	// as serve's does, woken by LISTEN.
	noRelay bool
	environ []string
}

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelError
	} else if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// start brings up a whole system for one test and stops it when the test ends.
func start(t testing.TB, opts options) *system {
	t.Helper()
	ctx := context.Background()
	log := testLogger(t)
	// Callbacks are acknowledged as users run rudderhook unless a test says otherwise (RUDDERHOOK_ACK):
	// from the inbox, which the relay hands to Temporal. Rule URLs and targets may reach loopback, where
	// the fake CRMs listen, unless a test says RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK=false.
	cfg, err := config.Load(append([]string{"RUDDERHOOK_MAX_BODY_BYTES=65536", "RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK=true"},
		opts.environ...), "")
	if err != nil {
		t.Fatal(err)
	}
	s := &system{t: t, cfg: cfg, dbURL: storetest.URL(t)}
	if s.db, err = store.Open(ctx, s.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.db.Close() })
	s.store = store.New(s.db)
	idKey, err := s.store.InstallationKey(ctx, store.KeyNumberIDs) // as runAPI reads it
	if err != nil {
		t.Fatal(err)
	}
	cfg.UseNumberKeys(idKey)

	s.temporal, err = devserver.Start(ctx, devserver.Options{
		DataDir: opts.dataDir, FrontendAddr: "127.0.0.1:0", UIAddr: opts.uiAddr, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.temporal.Stop)
	copts := client.Options{HostPort: s.temporal.FrontendAddr, Logger: sdklog.NewStructuredLogger(log)}
	if cfg.Temporal.PayloadKeys != "" {
		c, err := codec.Parse(cfg.Temporal.PayloadKeys)
		if err != nil {
			t.Fatal(err)
		}
		c.Apply(&copts)
	}
	s.client, err = client.DialContext(ctx, copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.Close)
	if !opts.noWorker {
		s.startWorker()
	}
	// The ingest service as serve builds it: its inbox group-commits, its relay retries as configured.
	s.ingest = &ingest.Service{Temporal: s.client, Store: s.store, Sources: cfg.Sources, Log: log, Parallelism: 4, TaskQueue: cfg.Temporal.TaskQueue}
	relay := s.ingest.UseInbox(inbox.Options{MaxAttempts: cfg.InboxMaxAttempts, MaxAge: cfg.InboxMaxAge,
		Concurrency: cfg.RelayConcurrency, Batch: &inbox.BatchOptions{}})
	t.Cleanup(relay.Close) // after the HTTP server closed (cleanups run last first)
	s.serve(s.ingest)
	if !opts.noRelay {
		s.relay(s.ingest)
	}
	return s
}

// relay runs svc's inbox relay as serve does, woken by LISTEN and polling every 5 s, in place of the
// relay that ran before, until the test ends.
func (s *system) relay(svc *ingest.Service) {
	if s.stopRelay != nil {
		s.stopRelay()
	}
	ctx, cancel := context.WithCancel(context.Background())
	wake := inbox.Listen(ctx, s.dbURL, testLogger(s.t))
	<-wake // connected: commits from now on are heard
	stop := s.runRelay(svc, 5*time.Second, wake)
	s.stopRelay = func() { stop(); cancel() }
	s.t.Cleanup(cancel)
}

func (s *system) startWorker() {
	acts := activities.New(s.store, s.cfg, testLogger(s.t))
	if s.cfg.RecordingsBucket != "" { // as runWorker opens it
		rec, err := activities.OpenRecordings(context.Background(), s.cfg.RecordingsBucket, s.cfg.RecordingsMaxBytes)
		if err != nil {
			s.t.Fatal(err)
		}
		s.t.Cleanup(func() { _ = rec.Close() })
		acts.Recordings = rec
	}
	acts.Retrier = &repair.Service{Store: s.store, Temporal: s.client, TaskQueue: s.cfg.Temporal.TaskQueue, Numbers: s.cfg.SearchNumbers(), Log: testLogger(s.t)}
	w := worker.New(s.client, s.cfg.Temporal.TaskQueue, acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(w.Stop)
}

// serve (re)builds the HTTP API in front of svc.
func (s *system) serve(svc *ingest.Service) {
	if s.http != nil {
		s.http.Close()
	}
	inForce := rulesync.New(svc.Store)
	fix := &repair.Service{Store: svc.Store, Temporal: svc.Temporal, TaskQueue: s.cfg.Temporal.TaskQueue, Numbers: s.cfg.Numbers, Log: testLogger(s.t)}
	srv := &api.Server{
		Ingest: svc, Store: svc.Store, Rules: inForce, Repair: fix, Temporal: svc.Temporal, Sources: s.cfg.Sources, Log: testLogger(s.t),
		TaskQueue: s.cfg.Temporal.TaskQueue, AdminToken: adminToken, UIBase: "http://ui.example", Namespace: "default", Targets: s.cfg.TargetNames(),
		URLs: s.cfg.RuleURLs(), Numbers: s.cfg.Numbers,
	}
	page := &ui.Server{Store: svc.Store, Rules: inForce, Targets: s.cfg.TargetNames(), URLs: s.cfg.RuleURLs(), Users: s.cfg.Users,
		SessionKey: s.cfg.SessionKey, SessionTTL: s.cfg.SessionTTL, Log: testLogger(s.t), Repair: fix}
	var err error
	if srv.RulesPage, err = page.Handler(); err != nil {
		s.t.Fatal(err)
	}
	h, err := srv.Handler()
	if err != nil {
		s.t.Fatal(err)
	}
	if s.http == nil {
		s.t.Cleanup(s.checkExchanges)
	}
	s.http = httptest.NewServer(s.recordExchanges(h))
	s.t.Cleanup(s.http.Close)
}

// post sends a callback body to /webhooks/{source}/call-completed.
func (s *system) post(source string, body []byte, contentType string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/"+source+"/call-completed", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return s.do(req)
}

// get calls the admin API with the token.
func (s *system) get(path string) (int, []byte) {
	s.t.Helper()
	return s.admin(http.MethodGet, path, nil)
}

// admin sends a request with the admin token.
func (s *system) admin(method, path string, body []byte) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.http.URL+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if len(body) > 0 && body[0] == '{' {
		req.Header.Set("Content-Type", "application/json")
	} else if len(body) > 0 {
		req.Header.Set("Content-Type", "application/yaml") // rules
	}
	return s.do(req)
}

func (s *system) do(req *http.Request) (int, []byte) {
	s.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// waitLimit bounds every wait of the tests: the slowest is a workflow with a retried follow-up on two
// busy cores.
const waitLimit = 30 * time.Second

// eventually waits until cond holds, looking every 50 ms, and fails the test, saying what it waited for
// and how long, when it does not within waitLimit. It is the one way the tests wait for something the
// system does in its own time.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	began := time.Now()
	for !cond() {
		if waited := time.Since(began); waited > waitLimit {
			t.Fatalf("waited %s for %s; it did not happen", waited.Round(time.Millisecond), what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitWorkflow waits until the callbacks acknowledged so far are in Temporal (handedOver), then for the
// latest run of workflow id to complete, and fails the test if it does not.
func (s *system) waitWorkflow(id string) {
	s.t.Helper()
	s.handedOver()
	eventually(s.t, "workflow "+id+" to start", func() bool {
		_, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := s.client.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		s.t.Fatalf("workflow %s: %v", id, err)
	}
}

// handedOver waits, while the system's relay runs, until no acknowledged callback waits in the inbox:
// each was handed to its workflows (started, signalled, or found processed), so what they did in
// Temporal can be looked at. A test that relays by hand (noRelay) does so before it waits.
func (s *system) handedOver() {
	s.t.Helper()
	if s.stopRelay != nil {
		s.waitRows(`SELECT count(*) FROM inbox WHERE state = 'pending'`, 0)
	}
}

// waitRows waits until a count query gives want.
func (s *system) waitRows(query string, want int) {
	s.t.Helper()
	eventually(s.t, fmt.Sprintf("%s to be %d", query, want), func() bool {
		var n int
		if err := s.db.Get(&n, query); err != nil {
			s.t.Fatal(err)
		}
		return n == want
	})
}

// runID is the ID of the latest run of workflow id, as Temporal's own record (not its eventually
// consistent visibility) says.
func (s *system) runID(id string) string {
	s.t.Helper()
	d, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		s.t.Fatalf("describe %s: %v", id, err)
	}
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

// notStarted fails the test if workflow id has a run, as Temporal's own record says.
func (s *system) notStarted(id string) {
	s.t.Helper()
	_, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		s.t.Errorf("workflow %s: %v, want none started", id, err)
	}
}

// acknowledged is how many callbacks were ever written to the inbox, read from its identity sequence
// (the relay deletes the rows): in inbox mode, every callback acknowledged so far, written before its
// answer, so it says at once whether any was.
func (s *system) acknowledged() int {
	s.t.Helper()
	var n int
	if err := s.db.Get(&n, `SELECT coalesce(last_value, 0) FROM pg_sequences
WHERE schemaname = current_schema() AND sequencename = split_part(pg_get_serial_sequence('inbox', 'id'), '.', 2)`); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// historyMentions says whether any event in the history of workflow id (its latest run) mentions text:
// what an operator reads in the Temporal UI.
func (s *system) historyMentions(id, text string) bool {
	s.t.Helper()
	iter := s.client.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			s.t.Fatalf("history of %s: %v", id, err)
		}
		if b, err := protojson.Marshal(e); err == nil && strings.Contains(string(b), text) {
			return true
		}
	}
	return false
}

// listed waits until a visibility query (as the Temporal UI lists executions) counts want. Visibility is
// eventually consistent: a count may lag behind what happened, so only a count that must grow to want
// is asked of it; what must not have happened is asked of Temporal's own record (runID, notStarted,
// signals) or of PostgreSQL.
func (s *system) listed(query string, want int64) {
	s.t.Helper()
	eventually(s.t, fmt.Sprintf("%d executions listed for %s", want, query), func() bool {
		resp, err := s.client.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err != nil {
			s.t.Fatalf("count %q: %v", query, err)
		}
		return resp.GetCount() == want
	})
}

func (s *system) count(table string) int {
	s.t.Helper()
	var n int
	if err := s.db.Get(&n, "SELECT count(*) FROM "+table); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// signed returns the seed example after edit, with Sign recomputed for the default key.
func signed(t testing.TB, edit func(env map[string]any, details []any) []any) []byte {
	t.Helper()
	var env map[string]any
	dec := json.NewDecoder(bytes.NewReader(airudder.ExampleCallCompleted))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		env["Details"] = edit(env, env["Details"].([]any))
	}
	taskID, _ := env["TaskID"].(string)
	env["Sign"] = airudder.Sign(taskID, airudder.DefaultKey)
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// detailCopy is a copy of the seed example's detail with another CallID.
func detailCopy(details []any, callID string) map[string]any {
	src := details[0].(map[string]any)
	d := make(map[string]any, len(src))
	for k, v := range src {
		d[k] = v
	}
	d["CallID"] = callID
	return d
}

func mustUnmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	mustUnmarshal(t, body, &e)
	if e.Error.Message == "" {
		t.Errorf("error without a message: %s", body)
	}
	return e.Error.Code
}

func callPath(key string) string { return "/v1/calls/" + url.PathEscape(key) }
