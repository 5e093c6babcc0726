package airudder_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
)

var queryDay = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// records are n calls of family, one a minute from queryDay, in task (or workflow) task.
func records(family, task string, n int) []airuddertest.Record {
	out := make([]airuddertest.Record, n)
	for i := range out {
		start := queryDay.Add(time.Duration(i) * time.Minute)
		out[i] = airuddertest.Record{
			Family: family, CallID: fmt.Sprintf("%s-call-%04d", task, i), TaskID: task, TaskName: "Task " + task,
			WorkflowID: "wf-" + task, WorkflowName: "Workflow " + task, NodeTaskID: "node-1", NodeTaskName: "First call",
			CaseID: fmt.Sprintf("case-%04d", i), Callee: fmt.Sprintf("+62812%07d", i), Start: start, End: start.Add(30 * time.Second),
			Intention: "A", IntentionDescription: "Promise To Pay", TalkRound: 3,
		}
	}
	return out
}

// TestTaskDetailPagesTheWorkflowRecords: taskdetail's pages cover the range exactly once, both bounds
// included, in the account's zone.
func TestTaskDetailPagesTheWorkflowRecords(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	fa.Seed(records("", "t1", 250)...)
	c := fa.Client()
	r := airudder.TimeRange{From: queryDay.Add(10 * time.Minute), To: queryDay.Add(109 * time.Minute)}
	seen := map[string]bool{}
	total := -1
	for page := 1; ; page++ {
		p, err := c.TaskDetail(context.Background(), airudder.WorkflowRecordsRequest{Range: r, Page: page, PageSize: 30})
		if err != nil {
			t.Fatal(err)
		}
		total = p.Total
		for _, raw := range p.Records {
			rc, err := airudder.ReadWorkflowRecord(raw, "airudder", time.Now(), airudder.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if seen[rc.Key] {
				t.Errorf("%s listed twice", rc.Key)
			}
			seen[rc.Key] = true
		}
		if len(p.Records) < 30 {
			break
		}
	}
	if total != 100 || len(seen) != 100 || !seen["t1-call-0010"] || !seen["t1-call-0109"] {
		t.Errorf("total %d, %d records", total, len(seen))
	}
	got := fa.Requests()[1].JSON // after the token
	if got["start_time"] != "2025-03-01 00:10:00" || got["end_time"] != "2025-03-01 01:49:00" {
		t.Errorf("request %v", got)
	}
}

// TestWorkflowRecordReadsAsItsCallback: a taskdetail record gives the call its callback gives, typed field
// for typed field; a record Airudder corrected since differs in what was corrected.
func TestWorkflowRecordReadsAsItsCallback(t *testing.T) {
	t.Parallel()
	rec := records("", "t1", 1)[0]
	cc, err := mustDecode(t, airuddertest.CallCompleted(airudder.DefaultKey, rec)).CallCompleted(airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	callback := cc.Received("airudder", time.Now())[0]
	fa := airuddertest.New(t)
	fa.Seed(rec)
	read := func() *airudder.ReceivedCall {
		p, err := fa.Client().TaskDetail(context.Background(), airudder.WorkflowRecordsRequest{Range: airudder.TimeRange{From: queryDay, To: queryDay.Add(time.Hour)}, Page: 1, PageSize: 10})
		if err != nil || len(p.Records) != 1 {
			t.Fatalf("%v %+v", err, p)
		}
		rc, err := airudder.ReadWorkflowRecord(p.Records[0], "airudder", time.Now(), airudder.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	rc := read()
	if d := airudder.CallDifferences(callback, *rc); len(d) != 0 || rc.Key != callback.Key || rc.Task != callback.Task ||
		rc.Origin != airudder.OriginBackfill || rc.Call.CaseID != rec.CaseID {
		t.Errorf("differences %v; read %+v, callback %+v", d, rc, callback)
	}
	fa.Correct(rec.CallID, func(r *airuddertest.Record) { r.Intention, r.IntentionDescription = "F", "Refused" })
	if d := airudder.CallDifferences(callback, *read()); fmt.Sprint(d) != "[intention intention_description]" {
		t.Errorf("differences after a correction = %v", d)
	}
}

// TestPDSQueriesListTasksThenRecords: the tasks that started in a range, then one task's records in a
// range, in pages; a record is the PDS call its agent's result would have made.
func TestPDSQueriesListTasksThenRecords(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	fa.Seed(records(airudder.FamilyPDS, "p1", 40)...)
	fa.Seed(records(airudder.FamilyPDS, "p2", 5)...)
	c := fa.Client()
	tasks, err := c.QueryTaskList(context.Background(), airudder.TimeRange{From: queryDay.Add(-time.Hour), To: queryDay.Add(time.Hour)})
	if err != nil || len(tasks) != 2 || tasks[0].TaskID != "p1" {
		t.Fatalf("tasks %+v, %v", tasks, err)
	}
	r := airudder.TimeRange{From: queryDay.Add(5 * time.Minute), To: queryDay.Add(24 * time.Minute)}
	p, err := c.QueryTaskDetail(context.Background(), airudder.TaskDetailRequest{TaskID: "p1", Range: &r, Offset: 10, Limit: 15})
	if err != nil || p.Total != 20 || len(p.Records) != 10 {
		t.Fatalf("page %+v, %v", p, err)
	}
	rc, err := airudder.ReadPDSRecord(p.Records[0], "airudder", queryDay.Add(time.Hour), airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Key != "pds/p1-call-0015" || rc.Family() != airudder.FamilyPDS || rc.Call.Intention != "Promise To Pay" ||
		rc.Call.CallEndTime == nil || !rc.Call.CallEndTime.Equal(queryDay.Add(15*time.Minute+30*time.Second)) ||
		rc.EventTime == nil || !rc.EventTime.Equal(queryDay.Add(time.Hour)) || rc.Origin != airudder.OriginBackfill {
		t.Errorf("record read as %+v", rc)
	}
}

// TestQueriesThrottledAreRetryableWithoutEffect: HTTP 429 and code 10705 are Throttled (wait longer),
// retryable, and certainly without effect.
func TestQueriesThrottledAreRetryableWithoutEffect(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	c := fa.Client()
	r := airudder.TimeRange{From: queryDay, To: queryDay.Add(time.Hour)}
	for name, f := range map[string]airuddertest.Fault{
		"HTTP 429":   airuddertest.Answer(http.StatusTooManyRequests, `{"message":"slow down"}`),
		"code 10705": airuddertest.Throttled(),
	} {
		fa.Inject(fa.PDSPath(airudder.PDSQueryTaskListPath), airuddertest.Once(f))
		_, err := c.QueryTaskList(context.Background(), r)
		ae := apiError(t, err)
		if !ae.Throttled || !ae.Retryable || ae.OutcomeUnknown {
			t.Errorf("%s: %+v", name, ae)
		}
		if _, err := c.QueryTaskList(context.Background(), r); err != nil {
			t.Errorf("%s: the next attempt: %v", name, err)
		}
	}
	fa.Inject(airudder.TaskDetailPath, airuddertest.Once(airuddertest.Answer(http.StatusBadGateway, "")))
	_, err := c.TaskDetail(context.Background(), airudder.WorkflowRecordsRequest{Range: r, Page: 1, PageSize: 10})
	if ae := apiError(t, err); ae.Throttled || !ae.Retryable {
		t.Errorf("a 502: %+v", ae)
	}
}

// TestQueriesRenewARefusedToken: a query refused with 401 renews its family's token and is answered.
func TestQueriesRenewARefusedToken(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	fa.Seed(records(airudder.FamilyPDS, "p1", 3)...)
	c := fa.Client()
	r := airudder.TimeRange{From: queryDay, To: queryDay.Add(time.Hour)}
	if _, err := c.QueryTaskDetail(context.Background(), airudder.TaskDetailRequest{TaskID: "p1", Range: &r, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	fa.Expire()
	p, err := c.QueryTaskDetail(context.Background(), airudder.TaskDetailRequest{TaskID: "p1", Range: &r, Limit: 10})
	if err != nil || len(p.Records) != 3 {
		t.Fatalf("%+v, %v", p, err)
	}
	if n := fa.Count(fa.PDSPath(airudder.PDSAuthPath)); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

// TestDetailInstancesFindsWhereACalleeWent: after an upload took effect, the callee is in that workflow.
func TestDetailInstancesFindsWhereACalleeWent(t *testing.T) {
	t.Parallel()
	now := queryDay.Add(2 * time.Hour)
	fa := airuddertest.New(t, airuddertest.WithClock(func() time.Time { return now }))
	c := fa.Client()
	r := airudder.TimeRange{From: queryDay, To: queryDay.Add(3 * time.Hour)}
	found, err := c.DetailInstances(context.Background(), airudder.DetailInstancesRequest{Callee: "+6281234567890", Range: r})
	if err != nil || len(found) != 0 {
		t.Fatalf("before: %+v, %v", found, err)
	}
	if _, err := c.UploadDetails(context.Background(), "wf-recall", []airudder.Detail{{Callee: "+6281234567890"}}); err != nil {
		t.Fatal(err)
	}
	found, err = c.DetailInstances(context.Background(), airudder.DetailInstancesRequest{Callee: "+62 812-3456-7890", Range: r})
	if err != nil || len(found) != 1 || found[0].WorkflowID != "wf-recall" || found[0].Created == nil || !found[0].Created.Equal(now) {
		t.Fatalf("after: %+v, %v", found, err)
	}
	if _, err := c.DetailInstances(context.Background(), airudder.DetailInstancesRequest{Range: r}); err == nil {
		t.Error("a query without callee and case was sent")
	}
}

func mustDecode(t *testing.T, body []byte) *airudder.Document {
	t.Helper()
	doc, err := airudder.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestCallDifferencesAreCorrectionsNotAdditions: what a record adds (times a callback lacked) is no
// difference; an outcome filled in or changed is, and so is a time both say differently.
func TestCallDifferencesAreCorrectionsNotAdditions(t *testing.T) {
	t.Parallel()
	start := queryDay
	stored := airudder.ReceivedCall{Call: airudder.Call{CallID: "c", Status: "finished"}}
	got := airudder.ReceivedCall{Call: airudder.Call{CallID: "c", Status: "finished", CallStartTime: &start}}
	if d := airudder.CallDifferences(stored, got); len(d) != 0 {
		t.Errorf("an added time: %v", d)
	}
	got.Call.Intention = "A"
	later := start.Add(time.Minute)
	stored.Call.CallStartTime = &later
	if d := fmt.Sprint(airudder.CallDifferences(stored, got)); d != "[intention call_start_time]" {
		t.Errorf("differences %s", d)
	}
}
