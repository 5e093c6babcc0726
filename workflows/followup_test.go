package workflows_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
	"github.com/rudderhook/rudderhook/workflows"
)

// fakeEndpoint records requests and answers each with the status respond gives for the n-th (1-based).
type fakeEndpoint struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
}

func newFake(t *testing.T, handle func(n int, r *http.Request, body []byte) (int, string)) *fakeEndpoint {
	f := &fakeEndpoint{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, r)
		f.bodies = append(f.bodies, body)
		n := len(f.requests)
		f.mu.Unlock()
		status, answer := handle(n, r, body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeEndpoint) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// followUpEnv is a test environment with time skipping whose activities use a real database and fakes
// for the CRM and Airudder.
type followUpEnv struct {
	*testsuite.TestWorkflowEnvironment
	acts   *activities.Activities
	timers []time.Duration
	// attempts are when each attempt at a follow-up began, in the environment's time.
	attempts []time.Time
}

func newFollowUpEnv(t *testing.T, st *store.Store, crmURL, airudderURL string) *followUpEnv {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := &followUpEnv{TestWorkflowEnvironment: suite.NewTestWorkflowEnvironment()}
	env.acts = activities.New(st, &config.Config{
		// The fakes listen on loopback, which rule URLs and targets may reach only when this says so.
		OutboundAllowLoopback: true,
		Targets:               map[string]*config.Target{"crm": {Name: "crm", URL: crmURL, Secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="}},
		Airudder:              config.Airudder{BaseURL: airudderURL, AppKey: airuddertest.AppKey, AppSecret: airuddertest.AppSecret},
	}, slog.New(slog.DiscardHandler))
	env.acts.Clock = env.Now // windows, caps and retries are reckoned in the environment's time
	env.RegisterWorkflowWithOptions(workflows.SubjectWorkflow, workflow.RegisterOptions{Name: workflows.SubjectWorkflowType})
	env.RegisterActivity(env.acts)
	env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { env.timers = append(env.timers, d) })
	attempted := func(info *activity.Info) {
		if info.ActivityType.Name == "RunFollowUp" {
			env.attempts = append(env.attempts, env.Now())
		}
	}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) { attempted(info) })
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) { attempted(info) })
	return env
}

// gaps are the times between attempts.
func (env *followUpEnv) gaps() []time.Duration {
	var out []time.Duration
	for i := 1; i < len(env.attempts); i++ {
		out = append(out, env.attempts[i].Sub(env.attempts[i-1]))
	}
	return out
}

func putRules(t *testing.T, st *store.Store, doc string) {
	t.Helper()
	// Rules may name the fakes' loopback URLs, as under dev.
	opts := rules.Options{URLs: egress.Policy{AllowLoopback: true}}
	if _, _, _, err := rulesync.New(st).Save(context.Background(), []byte(doc), store.RuleSetChange{Origin: "test"}, opts); err != nil {
		t.Fatal(err)
	}
}

// run runs the workflow of a subject as the receiver starts it, to its end.
func run(t *testing.T, env *followUpEnv, in workflows.SubjectInput) *workflows.SubjectResult {
	t.Helper()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.SubjectWorkflowID(in.Subject)})
	env.ExecuteWorkflow(workflows.SubjectWorkflow, in)
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, err %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var res workflows.SubjectResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func TestFlakyTargetIsRetriedUntilItRecovers(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	crm := newFake(t, func(n int, _ *http.Request, _ []byte) (int, string) {
		if n <= 3 {
			return http.StatusServiceUnavailable, "maintenance"
		}
		return http.StatusOK, "{}"
	})
	putRules(t, st, "rules:\n  - id: nfu\n    when: 'true'\n    actions: [{name: task, type: webhook, target: crm}]\n")
	env := newFollowUpEnv(t, st, crm.URL, "")
	res := run(t, env, seedInput(t))

	if res.FollowUps["succeeded"] != 1 || crm.count() != 4 {
		t.Fatalf("result %+v after %d requests, want one success after 4", res.FollowUps, crm.count())
	}
	// Attempts are 10 s apart, doubling.
	if want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second}; !slices.Equal(env.gaps(), want) {
		t.Errorf("time between attempts = %v, want %v", env.gaps(), want)
	}
	ids := map[string]bool{}
	for _, r := range crm.requests {
		ids[r.Header.Get("webhook-id")] = true
	}
	if len(ids) != 1 {
		t.Errorf("webhook-ids %v: every attempt must carry the same one", ids)
	}
	fus := seedFollowUps(t, st)
	if len(fus) != 1 || fus[0].Status != rules.StatusSucceeded || fus[0].Attempts != 4 || *fus[0].ResponseStatus != 200 {
		t.Errorf("follow-up = %+v", fus)
	}
}

func TestRecallHonoursDelayAndCallingWindow(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, `
time_zone: Asia/Jakarta
rules:
  - id: unreachable
    when: call.ring_type in ["busy", "switchoff", "null"]
    actions:
      - name: recall
        type: airudder_recall
        workflow_id: wf-recall
        variables: {case: "{{ .call.case_id }}"}
        delay: 2h
        window: {start: "08:00", end: "20:00"}
`)
	in := seedInput(t)
	in.Call.Call.RingType = "busy"
	// The call ends at 19:00 in Jakarta (12:00 UTC): two hours later the calling window is closed, so the
	// re-call waits for 08:00 the next morning.
	end := time.Date(2024, 3, 11, 12, 0, 0, 0, time.UTC)
	in.Call.Call.CallEndTime = &end
	env := newFollowUpEnv(t, st, "", fa.URL)
	env.SetStartTime(end.Add(time.Minute))
	res := run(t, env, in)

	if res.FollowUps["succeeded"] != 1 {
		t.Fatalf("result = %+v", res)
	}
	nextMorning := time.Date(2024, 3, 12, 1, 0, 0, 0, time.UTC) // 08:00 in Jakarta
	if len(env.timers) != 1 || env.timers[0] != nextMorning.Sub(end.Add(time.Minute)) {
		t.Errorf("timers = %v, want one of %v (until 08:00 Jakarta the next day)", env.timers, nextMorning.Sub(end.Add(time.Minute)))
	}
	if ups := fa.Uploads(); len(ups) != 1 || ups[0].WorkflowID != "wf-recall" || !slices.Equal(ups[0].Callees, []string{"+86xxxxxxxx721"}) {
		t.Fatalf("uploads = %+v", ups)
	}
	reqs := fa.Requests()
	if len(reqs) != 2 || reqs[0].Path != airudder.WorkflowAuthPath { // one auth, one upload
		t.Fatalf("Airudder saw %+v, want auth + upload", reqs)
	}
	details := reqs[1].JSON["details"].([]any)[0].(map[string]any)
	if details["variables"].(map[string]any)["case"] != "7777777.0" {
		t.Errorf("upload = %s", reqs[1].Body)
	}
}

func TestDailyCapMovesTheExtraRecallToTheNextDay(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	// The cap counts every call the number received that day: the call that asks for the re-call is one,
	// so a cap of 2 leaves room for one re-call a day.
	putRules(t, st, `
time_zone: Asia/Jakarta
rules:
  - id: unreachable
    when: call.ring_type == "busy"
    actions:
      - {name: recall, type: airudder_recall, workflow_id: wf-recall, window: {start: "08:00", end: "20:00"}, max_per_day: 2}
`)
	start := time.Date(2024, 3, 11, 3, 30, 0, 0, time.UTC) // 10:30 in Jakarta
	for i, callID := range []string{"first", "second"} {
		in := seedInput(t)
		in.Call.Key, in.Call.Call.CallID, in.Call.Call.RingType = callID, callID, "busy"
		env := newFollowUpEnv(t, st, "", fa.URL)
		env.SetStartTime(start)
		res := run(t, env, in)
		if res.FollowUps["succeeded"] != 1 {
			t.Fatalf("call %s: %+v", callID, res)
		}
		switch i {
		case 0:
			if len(env.timers) != 0 {
				t.Errorf("the first re-call waited: %v", env.timers)
			}
		case 1: // the callee's one re-call for the day is taken: wait for 08:00 tomorrow
			if want := time.Date(2024, 3, 12, 1, 0, 0, 0, time.UTC).Sub(start); len(env.timers) != 1 || env.timers[0] != want {
				t.Errorf("timers = %v, want %v", env.timers, want)
			}
		}
	}
	if len(fa.Uploads()) != 2 {
		t.Errorf("uploads = %d, want 2 (one a day)", len(fa.Uploads()))
	}
}

func TestRefusedRecallFailsWithoutRetrying(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	putRules(t, st, "rules:\n  - id: r\n    when: 'true'\n    actions: [{name: recall, type: airudder_recall, workflow_id: wf}]\n")
	// Wrong credentials: Airudder answers code 401 to the token request, which no retry can fix.
	fa := airuddertest.New(t)
	env := newFollowUpEnv(t, st, "", fa.URL)
	env.acts.Airudder = airudder.NewClient(fa.URL, airuddertest.AppKey, "wrong", env.acts.HTTP)
	res := run(t, env, seedInput(t))
	if res.FollowUps["failed"] != 1 || len(fa.Requests()) != 1 {
		t.Fatalf("result %+v after %d requests", res.FollowUps, len(fa.Requests()))
	}
	fus := seedFollowUps(t, st)
	if fus[0].Status != rules.StatusFailed || fus[0].Attempts != 1 || fus[0].LastError == "" {
		t.Errorf("follow-up = %+v", fus[0])
	}
}

func TestRedirectIsNotADelivery(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	elsewhere := newFake(t, func(int, *http.Request, []byte) (int, string) { return http.StatusOK, "{}" })
	crm := newFake(t, func(int, *http.Request, []byte) (int, string) { return http.StatusFound, "" })
	crm.Config.Handler = http.RedirectHandler(elsewhere.URL, http.StatusFound)
	putRules(t, st, "rules:\n  - id: r\n    when: 'true'\n    actions: [{name: task, type: webhook, target: crm}]\n")
	res := run(t, newFollowUpEnv(t, st, crm.URL, ""), seedInput(t))
	if res.FollowUps["failed"] != 1 || elsewhere.count() != 0 {
		t.Errorf("result %+v, redirect target saw %d requests; want a failure and none", res.FollowUps, elsewhere.count())
	}
}
