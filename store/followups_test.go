package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

func TestSaveRuleSetMakesVersionsOnlyForNewText(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	if _, err := s.LatestRuleSet(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no rules yet: %v", err)
	}
	v1, created, err := s.SaveRuleSet(ctx, "d1", "rules: []", store.RuleSetChange{Origin: "api"})
	if err != nil || !created {
		t.Fatalf("first save: %+v %v %v", v1, created, err)
	}
	again, created, _ := s.SaveRuleSet(ctx, "d1", "rules: []", store.RuleSetChange{Origin: "file:x"})
	if created || again.Version != v1.Version {
		t.Errorf("same text made version %d (created %v)", again.Version, created)
	}
	v2, created, _ := s.SaveRuleSet(ctx, "d2", "rules: [x]", store.RuleSetChange{Origin: "api"})
	latest, _ := s.LatestRuleSet(ctx)
	if !created || v2.Version <= v1.Version || latest.Version != v2.Version || latest.Document != "rules: [x]" {
		t.Errorf("second version %+v, latest %+v", v2, latest)
	}
	// Going back to the first text is a change too: it becomes a third version.
	v3, created, _ := s.SaveRuleSet(ctx, "d1", "rules: []", store.RuleSetChange{Origin: "api"})
	if !created || v3.Version <= v2.Version {
		t.Errorf("revert made %+v (created %v)", v3, created)
	}
}

// followUpsFor stores the seed call and a rules version, and returns records ready to insert for the
// call's subject (SubjectID set).
func followUpsFor(t *testing.T, s *store.Store, n int) []store.FollowUpRecord {
	t.Helper()
	ctx := context.Background()
	rc := seedCall(t)
	stored, err := s.StoreRevision(ctx, airudder.CallSubject(rc), "call/airudder/"+rc.Key, true)
	if err != nil {
		t.Fatal(err)
	}
	return plannedFollowUps(t, s, stored.SubjectID, "call/airudder/"+rc.Key, n)
}

// plannedFollowUps saves a rules version and returns n records ready to insert for subject id, whose
// workflow is workflowID.
func plannedFollowUps(t *testing.T, s *store.Store, id int64, workflowID string, n int) []store.FollowUpRecord {
	t.Helper()
	rs, _, err := s.SaveRuleSet(context.Background(), "d", "rules: []", store.RuleSetChange{Origin: "api"})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.FollowUpRecord
	for i := range n {
		action := []string{"a", "b", "c", "d", "e", "f"}[i]
		out = append(out, store.FollowUpRecord{
			Key: rules.FollowUpKey(workflowID, "r", action), SubjectID: id, WorkflowID: "fu/" + action, RuleID: "r",
			RuleVersion: rs.Version, Action: action, Type: rules.TypeWebhook, CalleeNumber: "+62811", Status: rules.StatusScheduled,
			Plan: rules.FollowUp{Action: action, Type: rules.TypeWebhook},
		})
	}
	return out
}

// A follow-up belongs to its subject by one reference, whatever the subject's kind: each subject lists
// its own, and they list by the subject's kind, source and key.
func TestFollowUpsBelongToTheirSubjectWhateverItsKind(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	callRecs := followUpsFor(t, s, 2)
	ev := readEvent(t, airudder.KindQAResult, airudder.ExampleQAResult, time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC))
	evStored, err := s.StoreRevision(ctx, airudder.EventSubject(ev), eventWorkflowID(ev), true)
	if err != nil {
		t.Fatal(err)
	}
	evRecs := plannedFollowUps(t, s, evStored.SubjectID, eventWorkflowID(ev), 1)
	if _, err := s.InsertFollowUps(ctx, callRecs[0].SubjectID, callRecs); err != nil {
		t.Fatal(err)
	}
	inserted, err := s.InsertFollowUps(ctx, evStored.SubjectID, evRecs)
	if err != nil || len(inserted) != 1 || inserted[0].SubjectID != evStored.SubjectID || inserted[0].SubjectWorkflowID != eventWorkflowID(ev) ||
		inserted[0].SubjectKind != airudder.KindQAResult || inserted[0].SubjectKey != ev.Key || inserted[0].Source != "airudder" {
		t.Fatalf("inserted for the event = %+v, %v", inserted, err)
	}

	ofCall, err := s.FollowUpsOf(ctx, callRecs[0].SubjectID)
	if err != nil || len(ofCall) != 2 || ofCall[0].Key != callRecs[0].Key || ofCall[1].Key != callRecs[1].Key ||
		ofCall[0].SubjectKind != airudder.KindCallCompleted || ofCall[0].SubjectKey != seedCall(t).Key {
		t.Errorf("follow-ups of the call = %+v, %v", ofCall, err)
	}
	ofEvent, err := s.FollowUpsOf(ctx, evStored.SubjectID)
	if err != nil || len(ofEvent) != 1 || ofEvent[0].Key != evRecs[0].Key {
		t.Errorf("follow-ups of the event = %+v, %v", ofEvent, err)
	}
	for _, c := range []struct {
		f    store.FollowUpFilter
		want int
	}{
		{store.FollowUpFilter{Kind: airudder.KindQAResult}, 1},
		{store.FollowUpFilter{Kind: airudder.KindCallCompleted}, 2},
		{store.FollowUpFilter{Source: "airudder", Key: ev.Key}, 1},
		{store.FollowUpFilter{Key: seedCall(t).Key, Status: rules.StatusScheduled, RuleID: "r", Type: rules.TypeWebhook}, 2},
		{store.FollowUpFilter{Source: "elsewhere"}, 0},
		{store.FollowUpFilter{}, 3},
	} {
		c.f.Limit = 10
		if got, _, err := s.ListFollowUps(ctx, c.f); err != nil || len(got) != c.want {
			t.Errorf("ListFollowUps(%+v) = %d, %v; want %d", c.f, len(got), err, c.want)
		}
	}
	// By ID and by key they read with their subject too.
	byID, err := s.GetFollowUp(ctx, inserted[0].ID)
	if err != nil || byID.SubjectWorkflowID != eventWorkflowID(ev) {
		t.Errorf("by ID = %+v, %v", byID, err)
	}
	// Rule activity counts the subjects a rule matched, of any kind.
	activity, err := s.RuleActivitySince(ctx, time.Now().Add(-time.Hour))
	if err != nil || activity["r"] == nil || activity["r"].Calls != 2 || activity["r"].FollowUps != 3 {
		t.Errorf("activity = %+v, %v", activity["r"], err)
	}
}

func TestInsertFollowUpsIsIdempotentAndKeepsState(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	recs := followUpsFor(t, s, 2)
	first, err := s.InsertFollowUps(ctx, recs[0].SubjectID, recs)
	if err != nil || len(first) != 2 || first[0].ID == 0 || first[0].Plan.Action != "a" {
		t.Fatalf("insert = %+v, %v", first, err)
	}
	msg := "HTTP 503"
	status := 503
	if err := s.UpdateFollowUp(ctx, recs[0].Key, store.FollowUpUpdate{Status: rules.StatusFailed, CountAttempt: true, LastError: &msg, ResponseStatus: &status, Finished: true}); err != nil {
		t.Fatal(err)
	}
	again, err := s.InsertFollowUps(ctx, recs[0].SubjectID, recs) // the same plan again (a replayed activity)
	if err != nil || len(again) != 2 || again[0].ID != first[0].ID {
		t.Fatalf("second insert = %+v, %v", again, err)
	}
	if again[0].Status != rules.StatusFailed || again[0].Attempts != 1 || again[0].LastError != msg || *again[0].ResponseStatus != 503 || again[0].FinishedAt == nil {
		t.Errorf("state lost: %+v", again[0])
	}
	failed, next, err := s.ListFollowUps(ctx, store.FollowUpFilter{Status: rules.StatusFailed, Limit: 10})
	if err != nil || len(failed) != 1 || failed[0].Key != recs[0].Key || next != 0 {
		t.Errorf("failed = %+v, %d, %v", failed, next, err)
	}
	if err := s.UpdateFollowUp(ctx, "fu_nope", store.FollowUpUpdate{Status: rules.StatusRunning}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestDailyCapHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	recs := followUpsFor(t, s, 6)
	for i := range recs {
		recs[i].Action = "recall" // six follow-ups of the same rule and action for one callee
	}
	// (the keys stay distinct; only the cap's scope is shared)
	if _, err := s.InsertFollowUps(ctx, recs[0].SubjectID, recs); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)
	var granted atomic.Int32
	var wg sync.WaitGroup
	for _, r := range recs {
		wg.Go(func() {
			ok, err := s.ClaimDailySlot(ctx, r, day, 3)
			if err != nil {
				t.Error(err)
			}
			if ok {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 3 {
		t.Errorf("granted %d slots, want 3", granted.Load())
	}
	// A holder asking again keeps its slot; the next day has room.
	var holder store.FollowUpRecord
	for _, r := range recs {
		fu, _ := s.FollowUpByKey(ctx, r.Key)
		if fu.SlotDay != nil {
			holder = r
		}
	}
	if ok, _ := s.ClaimDailySlot(ctx, holder, day, 3); !ok {
		t.Error("a holder lost its slot")
	}
	if ok, _ := s.ClaimDailySlot(ctx, recs[0], day.AddDate(0, 0, 1), 3); !ok {
		t.Error("the next day is full")
	}
}

// callTo stores a call to number that started at start, from the Airudder workflow wf, with redials.
func callTo(t *testing.T, s *store.Store, key, number, wf string, start time.Time, redials ...airudder.Redial) {
	t.Helper()
	rc := seedCall(t)
	rc.Key, rc.Call.CallID, rc.Call.CalleeNumber, rc.Task.WorkflowID = key, key, number, wf
	rc.Call.CallStartTime, rc.Call.CallEndTime = &start, &start
	rc.Call.RedialCalls = redials
	if _, err := s.StoreRevision(context.Background(), airudder.CallSubject(rc), "call/airudder/"+key, true); err != nil {
		t.Fatal(err)
	}
}

func TestDailyCapOfACallCountsEveryCallTheNumberReceived(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	jkt, _ := time.LoadLocation("Asia/Jakarta")
	// Tomorrow in Jakarta, so that the calls that come back from our re-calls start after we claimed.
	now := time.Now().In(jkt)
	day := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, jkt)
	const number = "+62811"

	recs := followUpsFor(t, s, 3) // the seed call is to another number, on another day
	for i := range recs {
		recs[i].Type, recs[i].Plan.Type = rules.TypeAirudderRecall, rules.TypeAirudderRecall
		recs[i].CalleeNumber = number
		recs[i].RuleID = []string{"unreachable", "unreachable", "other-rule"}[i]
	}
	if _, err := s.InsertFollowUps(ctx, recs[0].SubjectID, recs); err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		fu, err := s.FollowUpByKey(ctx, recs[i].Key)
		if err != nil || !fu.ReachesPerson {
			t.Fatalf("a re-call reaches the person: %+v, %v", fu, err)
		}
		recs[i] = *fu
	}

	at := func(h, m int) *time.Time {
		v := day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
		return &v
	}
	// Airudder called the number at 09:00 Jakarta time, after a redial at 08:00 (listed without its own
	// number, so it is the call's) and one that is also a call completion of its own ("c-late"); the
	// 08:00 redial is listed again by the late call, and counts once. The late call at 23:30 is that
	// day in Jakarta; a call at 23:30 the evening before is not, though it is the same day in UTC.
	early := airudder.Redial{CallID: "r-early", CallStartTime: at(8, 0)}
	callTo(t, s, "c-9", number, "wf-campaign", *at(9, 0), early, airudder.Redial{CallID: "c-late", CallStartTime: at(23, 30), CalleeNumber: number})
	callTo(t, s, "c-late", number, "wf-campaign", *at(23, 30), early)
	callTo(t, s, "c-eve", number, "wf-campaign", *at(-1, 0))
	callTo(t, s, "c-other", "+62899", "wf-campaign", *at(10, 0))

	claim := func(r store.FollowUpRecord, limit int) bool {
		t.Helper()
		ok, err := s.ClaimDailySlot(ctx, r, day, limit)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// Three calls that day (09:00, 08:00, 23:30): a cap of 3 has no room, a cap of 5 two places.
	if claim(recs[0], 3) {
		t.Fatal("a cap of 3 a day let a fourth call through")
	}
	if !claim(recs[0], 5) {
		t.Fatal("a cap of 5 refused the fourth call")
	}
	// The first re-call went into Airudder's wf-recall; before its call comes back it counts as pending,
	// whatever the rule: 3 calls + 1 pending.
	if claim(recs[2], 4) {
		t.Error("a re-call of another rule did not count against the number's cap")
	}
	if err := s.UpdateFollowUp(ctx, recs[0].Key, store.FollowUpUpdate{Status: rules.StatusSucceeded, Finished: true, AirudderWorkflowID: "wf-recall"}); err != nil {
		t.Fatal(err)
	}
	// Its call comes back: counted once, as a call, not also as pending (4 calls, not 5).
	callTo(t, s, "c-recall", number, "wf-recall", *at(12, 0))
	if !claim(recs[1], 5) {
		t.Error("the re-call's own call was counted twice")
	}
	if claim(recs[2], 5) { // 4 calls + the second re-call, pending
		t.Error("a pending re-call was not counted")
	}
	// A holder asking again keeps its place, even though the day has filled up since.
	if !claim(recs[0], 5) {
		t.Error("a holder lost its place")
	}
}

func TestNeedsReviewIsAStatusAndTheAirudderWorkflowIsKept(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	recs := followUpsFor(t, s, 1)
	if _, err := s.InsertFollowUps(ctx, recs[0].SubjectID, recs); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateFollowUp(ctx, recs[0].Key, store.FollowUpUpdate{Status: rules.StatusNeedsReview, Finished: true, AirudderWorkflowID: "wf-77"}); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.ListFollowUps(ctx, store.FollowUpFilter{Status: rules.StatusNeedsReview, Limit: 10})
	if err != nil || len(list) != 1 || list[0].AirudderWorkflowID != "wf-77" {
		t.Errorf("needs review = %+v, %v", list, err)
	}
}

func TestRedactHidesPasswordsInEveryForm(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/rh?sslmode=disable":              "postgres://app:xxxxx@db:5432/rh?sslmode=disable",
		"postgres://app@db/rh?password=s3cret&sslmode=require":          "postgres://app@db/rh?password=xxxxx&sslmode=require",
		"host=db user=app password=s3cret dbname=rh":                    "host=db user=app password=xxxxx dbname=rh",
		"host=db password = 's3 cr\\'et' dbname=rh":                     "host=db password = xxxxx dbname=rh",
		"PASSWORD=s3cret host=db":                                       "PASSWORD=xxxxx host=db",
		"postgres://postgres@127.0.0.1:5432/rudderhook?sslmode=disable": "postgres://postgres@127.0.0.1:5432/rudderhook?sslmode=disable",
		"host=/var/run/postgresql user=app":                             "host=/var/run/postgresql user=app",
	} {
		got := store.Redact(in)
		if got != want || strings.Contains(got, "s3") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
