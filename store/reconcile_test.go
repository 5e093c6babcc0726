package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// TestReconcileMarksOnlyMoveForward: a mark survives (it is a row), a later window advances it, an
// earlier one (an on-demand run over the past) leaves it.
func TestReconcileMarksOnlyMoveForward(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	if m, err := s.ReconcileMarkOf(ctx, "airudder", "pds"); err != nil || m != nil {
		t.Fatalf("no mark yet: %v %v", m, err)
	}
	t1 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, to := range []time.Time{t1, t1.Add(-time.Hour), t1.Add(time.Minute)} {
		if err := s.AdvanceReconcileMark(ctx, "airudder", "pds", to); err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.ReconcileMarkOf(ctx, "airudder", "pds")
	if err != nil || m == nil || !m.Equal(t1.Add(time.Minute)) {
		t.Errorf("mark %v, %v", m, err)
	}
	if other, _ := s.ReconcileMarkOf(ctx, "airudder", "workflow"); other != nil {
		t.Errorf("the workflow family has a mark of its own: %v", other)
	}
	if marks, err := s.ReconcileMarks(ctx); err != nil || len(marks) != 1 || marks[0].Family != "pds" {
		t.Errorf("marks %+v, %v", marks, err)
	}
}

// TestRevisionsKeepTheirOriginAndShownCallsAreFoundByWorkflow: a backfilled delivery is a revision
// marked backfill; ShownCalls finds stored calls among keys and leaves out the rest.
func TestRevisionsKeepTheirOriginAndShownCallsAreFoundByWorkflow(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	rc := seedCall(t)
	wf := "call/airudder/" + rc.Key
	first, err := s.StoreRevision(ctx, airudder.CallSubject(rc), wf, true)
	if err != nil {
		t.Fatal(err)
	}
	corrected := rc
	corrected.Call.Intention, corrected.Digest, corrected.Origin = "F", "another", airudder.OriginBackfill
	if _, err := s.StoreRevision(ctx, airudder.CallSubject(corrected), wf, true); err != nil {
		t.Fatal(err)
	}
	revs, err := s.Revisions(ctx, first.SubjectID)
	if err != nil || len(revs) != 2 || revs[0].Origin != "callback" || revs[1].Origin != "backfill" {
		t.Fatalf("revisions %+v, %v", revs, err)
	}
	shown, err := s.ShownCalls(ctx, "airudder", []string{rc.Key, "nothing"})
	if err != nil || len(shown) != 1 || shown[rc.Key].Call.Intention != "F" || shown[rc.Key].Revision != 2 {
		t.Errorf("shown %+v, %v", shown, err)
	}
}

// recallFollowUp stores a re-call follow-up that Airudder took at since into workflow wf, expecting a
// call to callee by deadline, and returns its key and ID.
func recallFollowUp(t *testing.T, s *store.Store, callee, wf string, since, deadline time.Time) (string, int64) {
	t.Helper()
	ctx := context.Background()
	recs := followUpsFor(t, s, 1)
	recs[0].Type, recs[0].Plan.Type = rules.TypeAirudderRecall, rules.TypeAirudderRecall
	stored, err := s.InsertFollowUps(ctx, recs[0].SubjectID, recs)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateFollowUp(ctx, recs[0].Key, store.FollowUpUpdate{Status: rules.StatusSucceeded, Finished: true, AirudderWorkflowID: wf,
		Expect: &store.Expectation{Callee: callee, AirudderWorkflowID: wf, Since: since, Deadline: deadline}}); err != nil {
		t.Fatal(err)
	}
	return recs[0].Key, stored[0].ID
}

func expectationState(t *testing.T, s *store.Store, id int64) string {
	t.Helper()
	e, err := s.ExpectationOf(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e.State
}

// TestACallOfTheCalleeInTheWorkflowFulfilsItsExpectation: only a call to that number (however written),
// in that Airudder workflow, after the re-call, fulfils it.
func TestACallOfTheCalleeInTheWorkflowFulfilsItsExpectation(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	since := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	_, id := recallFollowUp(t, s, "+62 811-2233", "wf-recall", since, since.Add(24*time.Hour))
	callTo(t, s, "before", "+628112233", "wf-recall", since.Add(-time.Hour)) // the call that was re-called
	callTo(t, s, "elsewhere", "+628112233", "wf-other", since.Add(time.Hour))
	callTo(t, s, "someone-else", "+62899", "wf-recall", since.Add(time.Hour))
	if got := expectationState(t, s, id); got != "open" {
		t.Fatalf("after calls that do not answer it: %s", got)
	}
	callTo(t, s, "answer", "628112233", "wf-recall", since.Add(2*time.Hour))
	if got := expectationState(t, s, id); got != "fulfilled" {
		t.Errorf("after its call: %s", got)
	}
}

// TestOverdueReCallsAreMarkedFiredOnceAndSettledByALateCall: a deadline that passes makes the
// expectation and its follow-up overdue, listed until its event is fired; a late call makes the
// follow-up succeeded again.
func TestOverdueReCallsAreMarkedFiredOnceAndSettledByALateCall(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	since := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	key, id := recallFollowUp(t, s, "+628112233", "wf-recall", since, since.Add(time.Hour))
	if n, err := s.MarkOverdue(ctx, since.Add(59*time.Minute)); err != nil || n != 0 {
		t.Fatalf("before the deadline: %d, %v", n, err)
	}
	if n, err := s.MarkOverdue(ctx, since.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("at the deadline: %d, %v", n, err)
	}
	fu, _ := s.FollowUpByKey(ctx, key)
	if fu.Status != rules.StatusOverdue || fu.LastError == "" {
		t.Errorf("follow-up %s %q", fu.Status, fu.LastError)
	}
	unfired, err := s.UnfiredOverdue(ctx, 10)
	if err != nil || len(unfired) != 1 || unfired[0].FollowUp.ID != id || unfired[0].AirudderWorkflowID != "wf-recall" {
		t.Fatalf("unfired %+v, %v", unfired, err)
	}
	if err := s.MarkFired(ctx, []int64{id}); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.UnfiredOverdue(ctx, 10); len(again) != 0 {
		t.Errorf("fired twice: %+v", again)
	}
	callTo(t, s, "late", "+628112233", "wf-recall", since.Add(3*time.Hour))
	fu, _ = s.FollowUpByKey(ctx, key)
	if fu.Status != rules.StatusSucceeded || expectationState(t, s, id) != "fulfilled" {
		t.Errorf("after a late call: %s, %s", fu.Status, expectationState(t, s, id))
	}
	if _, err := s.ExpectationOf(ctx, id+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("no expectation: %v", err)
	}
}

// TestAnExpectationRecordedAfterItsCallIsFulfilledAtOnce: a call that came while the re-call's outcome was
// unknown (before its expectation was recorded) fulfils it when it is recorded.
func TestAnExpectationRecordedAfterItsCallIsFulfilledAtOnce(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	since := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	callTo(t, s, "came-first", "+628112233", "wf-recall", since.Add(time.Minute))
	_, id := recallFollowUp(t, s, "+62 811 2233", "wf-recall", since, since.Add(time.Hour))
	if got := expectationState(t, s, id); got != "fulfilled" {
		t.Errorf("state %s", got)
	}
}
