package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/worker"
	"github.com/rudderhook/rudderhook/workflows"
)

// reconciling starts a system whose Airudder is fa, whose source "airudder" reconciles both families
// (sourceYAML adds to its settings), and whose worker hands backfills to the receiver's start and waits
// only briefly after Airudder throttles it.
func reconciling(t *testing.T, fa *airuddertest.Server, sourceYAML string, environ ...string) *system {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rudderhook.yaml")
	doc := "sources:\n  airudder:\n    keys: [airudder]\n    reconcile: {families: [workflow, pds]" + sourceYAML + "}\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, options{noWorker: true, environ: append([]string{"RUDDERHOOK_CONFIG=" + path, "AIRUDDER_BASE_URL=" + fa.URL,
		"AIRUDDER_APP_KEY=" + airuddertest.AppKey, "AIRUDDER_APP_SECRET=" + airuddertest.AppSecret, "AIRUDDER_TIME_ZONE=UTC"}, environ...)})
	acts := activities.New(s.store, s.cfg, testLogger(t))
	acts.Starter = s.ingest
	acts.ReconcileBackoff = 20 * time.Millisecond
	w := worker.New(s.client, s.cfg.Temporal.TaskQueue, acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return s
}

var reconcileDay = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// dayOfRecords are 3,000 workflow family calls over reconcileDay, and 170 PDS calls: 150 of task p1 in
// one busy hour (more than the 100 records a query may page through, in the tests), 20 of p2 over the day.
func dayOfRecords() (wf, pds []airuddertest.Record) {
	outcomes := []string{"A", "E", "F", ""}
	for i := range 3000 {
		start := reconcileDay.Add(time.Duration(i) * 28 * time.Second)
		wf = append(wf, airuddertest.Record{CallID: fmt.Sprintf("day-%04d", i), TaskID: "task-1", TaskName: "Day task",
			WorkflowID: "wf-day", WorkflowName: "Day workflow", NodeTaskID: "node-1", NodeTaskName: "First call",
			CaseID: fmt.Sprintf("case-%04d", i), Callee: fmt.Sprintf("+62811%07d", i), Start: start, End: start.Add(20 * time.Second),
			Intention: outcomes[i%4], IntentionDescription: "outcome " + outcomes[i%4], TalkRound: int64(i % 3)})
	}
	pdsRecord := func(task string, i int, start time.Time) airuddertest.Record {
		return airuddertest.Record{Family: airudder.FamilyPDS, CallID: fmt.Sprintf("%s-%03d", task, i), TaskID: task, TaskName: "Dialer " + task,
			Callee: fmt.Sprintf("+62822%07d", i), Start: start, End: start.Add(40 * time.Second), Intention: "Contacted", IntentionDescription: "PTP"}
	}
	for i := range 150 {
		pds = append(pds, pdsRecord("p1", i, reconcileDay.Add(10*time.Hour+time.Duration(i)*20*time.Second)))
	}
	for i := range 20 {
		pds = append(pds, pdsRecord("p2", i, reconcileDay.Add(time.Duration(i)*time.Hour+30*time.Minute)))
	}
	return wf, pds
}

// deliver stores recs as the callbacks that reported them would have been stored (without running their
// workflows, which 3,000 calls would make slow): through the receiver's reader, processed.
func (s *system) deliver(recs []airuddertest.Record) {
	s.t.Helper()
	ctx := context.Background()
	src := s.cfg.Sources["airudder"]
	for len(recs) > 0 {
		n := min(len(recs), 100)
		cc, err := ingest.ReadCallCompleted(airuddertest.CallCompleted(airudder.DefaultKey, recs[:n]...), src, ingest.AlreadyVerified)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, rc := range cc.Received("airudder", reconcileDay.Add(25*time.Hour)) {
			if _, err := s.store.StoreRevision(ctx, airudder.CallSubject(rc), workflows.CallWorkflowID("airudder", rc.Key), true); err != nil {
				s.t.Fatal(err)
			}
		}
		recs = recs[n:]
	}
}

// deliverPDS stores recs as the PDS agent's call results (AgentStatus at TALKRESULT, which carry no call
// times) would have been stored.
func (s *system) deliverPDS(recs []airuddertest.Record) {
	s.t.Helper()
	src := s.cfg.Sources["airudder"]
	k, _ := airudder.KindByRoute(airudder.KindPDS)
	for _, r := range recs {
		body, _ := json.Marshal(map[string]any{"type": "AgentStatus", "body": map[string]any{"callid": r.CallID, "taskId": r.TaskID,
			"phoneNumber": r.Callee, "State": "TALKRESULT", "agentName": "Ayu", "timestamp": r.End.Add(time.Minute).UnixMilli(),
			"customizeResults": map[string]string{"Level1": r.Intention, "Level2": r.IntentionDescription}}})
		cb, err := ingest.Read(body, src, k, ingest.AlreadyVerified, r.End.Add(time.Minute))
		if err != nil {
			s.t.Fatal(err)
		}
		for _, subj := range cb.Subjects {
			if subj.IsCall() {
				if _, err := s.store.StoreRevision(context.Background(), subj, workflows.SubjectWorkflowID(subj), true); err != nil {
					s.t.Fatal(err)
				}
			}
		}
	}
}

// reconcileReport runs reconciliation of [from, to) through the API, waits for it, and returns its report
// as GET /v1/reconcile/{workflow_id} shows it.
func (s *system) reconcileReport(from, to time.Time) workflows.ReconcileReport {
	s.t.Helper()
	body := fmt.Sprintf(`{"source": "airudder", "from": %q, "to": %q}`, from.Format(time.RFC3339), to.Format(time.RFC3339))
	status, resp := s.admin(http.MethodPost, "/v1/reconcile", []byte(body))
	if status != http.StatusAccepted {
		s.t.Fatalf("POST /v1/reconcile = %d %s", status, resp)
	}
	var started struct {
		WorkflowID string `json:"workflow_id"`
	}
	mustUnmarshal(s.t, resp, &started)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.client.GetWorkflow(ctx, started.WorkflowID, "").Get(ctx, nil); err != nil {
		s.t.Fatalf("reconciliation: %v", err)
	}
	status, resp = s.get("/v1/reconcile/" + url.PathEscape(started.WorkflowID))
	var out struct {
		Status string
		Report workflows.ReconcileReport
	}
	mustUnmarshal(s.t, resp, &out)
	if status != http.StatusOK || out.Status != "completed" {
		s.t.Fatalf("GET /v1/reconcile/%s = %d %s", started.WorkflowID, status, resp)
	}
	return out.Report
}

// waitBackfilled waits until the revisions of origin backfill number want (their workflows have stored
// them).
func (s *system) waitBackfilled(want int) {
	s.t.Helper()
	s.waitRows("SELECT count(*) FROM subject_revisions WHERE origin = 'backfill'", want)
}

type revisionView struct {
	Revision int
	Origin   string
}

func (s *system) revisionsOf(key string) []revisionView {
	s.t.Helper()
	status, body := s.get(callPath(key))
	var v struct {
		Revisions struct {
			List []revisionView
		}
	}
	mustUnmarshal(s.t, body, &v)
	if status != http.StatusOK {
		s.t.Fatalf("GET %s = %d %s", callPath(key), status, body)
	}
	return v.Revisions.List
}

// counted counts the faults f applies (every nth request), so that a test knows it met them.
func counted(n int, f airuddertest.Fault, hits *atomic.Int64) func(int) airuddertest.Fault {
	every := airuddertest.Every(n, f)
	return func(i int) airuddertest.Fault {
		out := every(i)
		if out != (airuddertest.Fault{}) {
			hits.Add(1)
		}
		return out
	}
}

// A day of Airudder's records of which a gap never came as callbacks: reconciliation backfills the gap
// (and nothing else) exactly once, through the callback's path, marked backfilled; a call Airudder
// corrected after its callback gets a second revision from the backfill; a busy PDS hour is sliced so
// that no query pages through more than Airudder serves; Airudder throttling (HTTP 429, code 10705) is
// waited out; and a second run finds nothing to do.
func TestReconcileBackfillsAGapOnceAndACorrectionAsARevision(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t, airuddertest.WithMaxRecordsPerQuery(100))
	s := reconciling(t, fa, ", slice: 2h, max_records_per_query: 100")
	wf, pds := dayOfRecords()
	fa.Seed(wf...)
	fa.Seed(pds...)

	gap := wf[1000:1050]
	delivered := append(append([]airuddertest.Record{}, wf[:1000]...), wf[1050:]...)
	// Five came through the receiver itself; the rest are stored as it stores them.
	for _, r := range delivered[:5] {
		if status, body := s.post("airudder", airuddertest.CallCompleted(airudder.DefaultKey, r), "application/json"); status != http.StatusOK {
			t.Fatalf("POST = %d %s", status, body)
		}
		s.waitWorkflow(workflows.CallWorkflowID("airudder", r.CallID))
	}
	s.deliver(delivered[5:])
	pdsGap := pds[140:160] // ten of the busy hour, ten over the day
	s.deliverPDS(append(append([]airuddertest.Record{}, pds[:140]...), pds[160:]...))
	corrected := wf[2000]
	fa.Correct(corrected.CallID, func(r *airuddertest.Record) { r.Intention, r.IntentionDescription = "F", "Refused after review" })

	var throttled429, throttled10705 atomic.Int64
	fa.Inject(airudder.TaskDetailPath, counted(4, airuddertest.Answer(http.StatusTooManyRequests, `{"message":"slow down"}`), &throttled429))
	fa.Inject(fa.PDSPath(airudder.PDSQueryTaskDetailPath), counted(3, airuddertest.Throttled(), &throttled10705))

	rep := s.reconcileReport(reconcileDay, reconcileDay.Add(24*time.Hour))
	if rep.Records != 3170 || rep.Backfilled != 71 || rep.Differences != 1 || rep.Errors != 0 || rep.Splits == 0 || !rep.Done {
		t.Errorf("report %+v", rep)
	}
	if throttled429.Load() == 0 || throttled10705.Load() == 0 || fa.OverCap() != 0 {
		t.Errorf("throttled %d (429) and %d (10705) times; %d queries paged past the cap", throttled429.Load(), throttled10705.Load(), fa.OverCap())
	}
	s.waitBackfilled(71)
	for _, r := range []airuddertest.Record{gap[0], gap[49]} {
		if revs := s.revisionsOf(r.CallID); len(revs) != 1 || revs[0].Origin != "backfill" {
			t.Errorf("%s: revisions %+v", r.CallID, revs)
		}
		desc, err := s.client.DescribeWorkflow(context.Background(), workflows.CallWorkflowID("airudder", r.CallID), "")
		if err != nil {
			t.Fatal(err)
		}
		if summary, _ := desc.GetStaticSummary(); !strings.HasSuffix(summary, "· backfilled") {
			t.Errorf("%s: its workflow's summary %q does not say it was backfilled", r.CallID, summary)
		}
	}
	if revs := s.revisionsOf("pds/" + pdsGap[0].CallID); len(revs) != 1 || revs[0].Origin != "backfill" {
		t.Errorf("PDS gap: revisions %+v", revs)
	}
	if revs := s.revisionsOf(corrected.CallID); len(revs) != 2 || revs[0].Origin != "callback" || revs[1].Origin != "backfill" {
		t.Errorf("corrected: revisions %+v", revs)
	}
	if c := s.callView(corrected.CallID); c.Call.Intention != "F" {
		t.Errorf("corrected call shows %+v", c)
	}
	if n := s.count("subjects"); n != 3170 {
		t.Errorf("%d subjects, want one per call: 3170", n)
	}

	fa.Inject(airudder.TaskDetailPath, nil)
	fa.Inject(fa.PDSPath(airudder.PDSQueryTaskDetailPath), nil)
	revisions := s.count("subject_revisions")
	again := s.reconcileReport(reconcileDay, reconcileDay.Add(24*time.Hour))
	if again.Records != 3170 || again.Backfilled != 0 || again.Differences != 0 || again.Errors != 0 {
		t.Errorf("second run: %+v", again)
	}
	if n := s.count("subject_revisions"); n != revisions {
		t.Errorf("the second run stored %d revisions", n-revisions)
	}
}

// A scheduled run starts from the high-water mark it left (less the overlap), so that calls reconciled
// are not read again and a later gap is: the mark is in PostgreSQL, whatever restarts in between.
func TestScheduledReconcileGoesOnFromItsHighWaterMark(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	s := reconciling(t, fa, ", window: 2h, settle: 1m, overlap: 5m")
	now := time.Now().UTC().Truncate(time.Second)
	recent := airuddertest.DemoRecords(now.Add(-10*time.Minute), 30) // up to ten minutes ago, every three minutes
	fa.Seed(recent...)
	run := func() workflows.ReconcileReport {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.ScheduledReconcileID("airudder") + "-" + time.Now().Format(time.RFC3339Nano),
			TaskQueue: workflows.TaskQueueOr(s.cfg.Temporal.TaskQueue)}, workflows.ReconcileWorkflowType, workflows.ReconcileInput{Source: "airudder"})
		if err != nil {
			t.Fatal(err)
		}
		var rep workflows.ReconcileReport
		if err := r.Get(ctx, &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	first := run()
	if first.Backfilled != 30 || first.Errors != 0 || len(first.Windows) != 2 || !first.Windows[0].Advance {
		t.Fatalf("first run %+v", first)
	}
	status, body := s.get("/v1/reconcile")
	if status != http.StatusOK || !strings.Contains(string(body), `"high_water"`) {
		t.Fatalf("GET /v1/reconcile = %d %s", status, body)
	}
	mark := first.Windows[0].To
	second := run()
	if w := second.Windows[0]; !w.From.Equal(mark.Add(-5*time.Minute)) || second.Backfilled != 0 {
		t.Errorf("second run from %s (mark %s), backfilled %d", w.From, mark, second.Backfilled)
	}
	s.waitBackfilled(30)
}

// The worker keeps the schedules the configuration asks for: reconciliation of a source that has it on,
// the expectations' sweep; turned off, a source's schedule is deleted.
func TestWorkerKeepsTheSchedules(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	s := reconciling(t, fa, ", interval: 15m")
	ctx := context.Background()
	schedules := func() worker.Schedules {
		return worker.Schedules{Sources: s.cfg.SourceNames(), Reconcile: s.cfg.ReconcileIntervals(), ExpectationsSweep: s.cfg.ExpectationsSweep}
	}
	if err := worker.EnsureSchedules(ctx, s.client, schedules(), testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if err := worker.EnsureSchedules(ctx, s.client, schedules(), testLogger(t)); err != nil { // again: idempotent
		t.Fatal(err)
	}
	sc := s.client.ScheduleClient()
	desc, err := sc.GetHandle(ctx, workflows.ReconcileScheduleID("airudder")).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if every := desc.Schedule.Spec.Intervals[0].Every; every != 15*time.Minute {
		t.Errorf("reconcile schedule every %s", every)
	}
	if _, err := sc.GetHandle(ctx, workflows.ExpectationsScheduleID).Describe(ctx); err != nil {
		t.Errorf("no expectations schedule: %v", err)
	}
	s.cfg.Sources["airudder"].Reconcile.Interval = 0
	if err := worker.EnsureSchedules(ctx, s.client, schedules(), testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.GetHandle(ctx, workflows.ReconcileScheduleID("airudder")).Describe(ctx); err == nil {
		t.Error("the schedule of a source whose reconciliation is off is still there")
	}
}

const recallRules = `
rules:
  - id: ptp-recall
    when: call.intention == "E"
    actions:
      - {name: again, type: airudder_recall, workflow_id: wf-recall, expect_within: 3s, ask_after: 1s}
  - id: overdue-to-crm
    on: recall_overdue
    when: event.rule_id == "ptp-recall"
    actions:
      - {name: tell, type: webhook, target: crm}
`

// recallOf posts the callback of a call to callee whose intention asks for a re-call, and waits for its
// workflow (and its re-call's) to end.
func (s *system) recallOf(callID, callee string) {
	s.t.Helper()
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	r := airuddertest.Record{CallID: callID, TaskID: "task-r", WorkflowID: "wf-original", Callee: callee, CaseID: "case-" + callID,
		Start: start, End: start.Add(30 * time.Second), Intention: "E", IntentionDescription: "Needs Follow Up"}
	if status, body := s.post("airudder", airuddertest.CallCompleted(airudder.DefaultKey, r), "application/json"); status != http.StatusOK {
		s.t.Fatalf("POST = %d %s", status, body)
	}
	s.waitWorkflow(workflows.CallWorkflowID("airudder", callID))
}

// followUpOf is the one follow-up of a call, as the admin API shows it.
func (s *system) followUpOfCall(callID string) followUpView {
	s.t.Helper()
	status, body := s.get("/v1/follow-ups?call_key=" + url.QueryEscape(callID))
	var list struct {
		FollowUps []followUpView `json:"follow_ups"`
	}
	mustUnmarshal(s.t, body, &list)
	if status != http.StatusOK || len(list.FollowUps) != 1 {
		s.t.Fatalf("follow-ups of %s = %d %s", callID, status, body)
	}
	return list.FollowUps[0]
}

// A re-call that Airudder took waits for its call: one whose call completes (a callback of a call to that
// callee in the re-call's workflow) is fulfilled; one whose call never comes is overdue after its
// expect_within, and fires the rule on recall_overdue, whose webhook is delivered.
func TestReCallNeverCompletingBecomesOverdueAndFiresItsRule(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	crm := newTarget(t, nil)
	s := reconciling(t, fa, "", "RUDDERHOOK_TARGET_CRM_URL="+crm.URL, "RUDDERHOOK_TARGET_CRM_SECRET="+crmSecret)
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(recallRules)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	s.recallOf("never", "+6281100000001")
	s.recallOf("answered", "+6281100000002")
	if len(fa.Uploads()) != 2 {
		t.Fatalf("uploads %+v", fa.Uploads())
	}
	// Airudder calls the second callee again, in the re-call's workflow, and reports it.
	now := time.Now().UTC().Truncate(time.Second)
	back := airuddertest.Record{CallID: "answered-again", TaskID: "task-recall", WorkflowID: "wf-recall", Callee: "6281100000002",
		Start: now, End: now.Add(20 * time.Second), Intention: "A"}
	if status, body := s.post("airudder", airuddertest.CallCompleted(airudder.DefaultKey, back), "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, body)
	}
	s.waitWorkflow(workflows.CallWorkflowID("airudder", back.CallID))

	time.Sleep(time.Until(now.Add(4 * time.Second))) // past both deadlines (expect_within: 3s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "expectations/test", TaskQueue: workflows.TaskQueueOr(s.cfg.Temporal.TaskQueue)},
		workflows.ExpectationsWorkflowType)
	if err != nil {
		t.Fatal(err)
	}
	var swept activities.SweepResult
	if err := run.Get(ctx, &swept); err != nil || swept.Overdue != 1 || swept.Fired != 1 {
		t.Fatalf("sweep %+v, %v", swept, err)
	}
	if fu := s.followUpOfCall("never"); fu.Status != "overdue" || !strings.Contains(fu.LastError, "wf-recall") {
		t.Errorf("never completed: %+v", fu)
	}
	if fu := s.followUpOfCall("answered"); fu.Status != "succeeded" {
		t.Errorf("completed: %+v", fu)
	}
	if fu := s.onlyFollowUp("overdue"); fu.RuleID != "ptp-recall" {
		t.Errorf("GET /v1/follow-ups?status=overdue: %+v", fu)
	}
	for deadline := time.Now().Add(30 * time.Second); len(crm.received()) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
	}
	got := crm.received()
	if len(got) != 1 || !strings.Contains(string(got[0].body), "recall_overdue") || !strings.Contains(string(got[0].body), "case-never") {
		t.Fatalf("the CRM received %d requests: %v", len(got), got)
	}
	// A second sweep fires nothing again.
	run, err = s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "expectations/test-2", TaskQueue: workflows.TaskQueueOr(s.cfg.Temporal.TaskQueue)},
		workflows.ExpectationsWorkflowType)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, &swept); err != nil || swept.Overdue != 0 || swept.Fired != 0 {
		t.Errorf("second sweep %+v, %v", swept, err)
	}
}

// A re-call that ended needs_review because its outcome was unknown is settled by asking Airudder: when
// Airudder shows the callee in the re-call's workflow it succeeded; when it shows nothing it stays for
// review, saying what was found. Either way the person was called at most once.
func TestNeedsReviewReCallIsSettledByAskingAirudder(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	crm := newTarget(t, nil)
	s := reconciling(t, fa, "", "RUDDERHOOK_TARGET_CRM_URL="+crm.URL, "RUDDERHOOK_TARGET_CRM_SECRET="+crmSecret)
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(recallRules)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	fa.Inject(airudder.UploadDetailsPath, airuddertest.Once(airuddertest.Fault{Status: http.StatusBadGateway, Body: `{}`, Effect: true}))
	s.recallOf("took-effect", "+6281100000003")
	if fu := s.followUpOfCall("took-effect"); fu.Status != "succeeded" || !strings.Contains(fu.LastError, "settled by asking Airudder") {
		t.Errorf("took effect: %+v", fu)
	}
	fa.Inject(airudder.UploadDetailsPath, airuddertest.Once(airuddertest.Fault{Status: http.StatusBadGateway, Body: `{}`}))
	s.recallOf("lost", "+6281100000004")
	fu := s.followUpOfCall("lost")
	if fu.Status != "needs_review" || !strings.Contains(fu.LastError, "outcome unknown") || !strings.Contains(fu.LastError, "not in workflow wf-recall") {
		t.Errorf("lost: %+v", fu)
	}
	if n := fa.Count(airudder.UploadDetailsPath); n != 2 || fa.Count(airudder.DetailInstancesPath) != 2 {
		t.Errorf("%d uploads and %d questions, want one each per re-call", n, fa.Count(airudder.DetailInstancesPath))
	}
}
