package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

func idsOf(recs []store.FollowUpRecord) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// A bulk retry's plan reads follow-ups with the listing's filters, several statuses at once and a time
// range, oldest first from a cursor, and counts them; the subjects of a page are read at once.
func TestScanFollowUpsFiltersCountsAndReadsSubjects(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	planned := followUpsFor(t, s, 4)
	planned[3].Type = rules.TypeNotify
	recs, err := s.InsertFollowUps(ctx, planned[0].SubjectID, planned)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []rules.Status{rules.StatusFailed, rules.StatusNeedsReview, rules.StatusSucceeded, rules.StatusFailed} {
		if err := s.UpdateFollowUp(ctx, recs[i].Key, store.FollowUpUpdate{Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	// The last was planned a day ago.
	if _, err := s.DB().ExecContext(ctx, `UPDATE follow_ups SET created_at = now() - interval '1 day' WHERE id = $1`, recs[3].ID); err != nil {
		t.Fatal(err)
	}
	retryable := store.FollowUpFilter{Statuses: []rules.Status{rules.StatusFailed, rules.StatusNeedsReview}}
	for _, tc := range []struct {
		name string
		f    store.FollowUpFilter
		want []int64
	}{
		{"retryable", retryable, []int64{recs[0].ID, recs[1].ID, recs[3].ID}},
		{"failed", store.FollowUpFilter{Statuses: []rules.Status{rules.StatusFailed}}, []int64{recs[0].ID, recs[3].ID}},
		{"a type", store.FollowUpFilter{Statuses: retryable.Statuses, Type: rules.TypeNotify}, []int64{recs[3].ID}},
		{"since an hour ago", store.FollowUpFilter{Statuses: retryable.Statuses, CreatedAfter: time.Now().Add(-time.Hour)}, []int64{recs[0].ID, recs[1].ID}},
		{"before an hour ago", store.FollowUpFilter{Statuses: retryable.Statuses, CreatedBefore: time.Now().Add(-time.Hour)}, []int64{recs[3].ID}},
		{"another source", store.FollowUpFilter{Statuses: retryable.Statuses, Source: "other"}, []int64{}},
		{"the subject's kind and rule", store.FollowUpFilter{Statuses: retryable.Statuses, Kind: airudder.KindCallCompleted, RuleID: "r"},
			[]int64{recs[0].ID, recs[1].ID, recs[3].ID}},
	} {
		got, err := s.ScanFollowUps(ctx, tc.f, 0, 10)
		if err != nil || !slices.Equal(idsOf(got), tc.want) {
			t.Errorf("%s: scanned %v, want %v (%v)", tc.name, idsOf(got), tc.want, err)
		}
		n, err := s.CountMatchingFollowUps(ctx, tc.f)
		if err != nil || n != int64(len(tc.want)) {
			t.Errorf("%s: counted %d, want %d (%v)", tc.name, n, len(tc.want), err)
		}
	}
	page, err := s.ScanFollowUps(ctx, retryable, recs[0].ID, 1)
	if err != nil || !slices.Equal(idsOf(page), []int64{recs[1].ID}) {
		t.Errorf("after the first, one: %v (%v)", idsOf(page), err)
	}
	// The listing takes the time range too.
	listed, _, err := s.ListFollowUps(ctx, store.FollowUpFilter{CreatedBefore: time.Now().Add(-time.Hour), Limit: 10})
	if err != nil || !slices.Equal(idsOf(listed), []int64{recs[3].ID}) {
		t.Errorf("listed before an hour ago: %v (%v)", idsOf(listed), err)
	}

	subjects, err := s.SubjectsByID(ctx, []int64{recs[0].SubjectID, 999999})
	if err != nil || len(subjects) != 1 || subjects[recs[0].SubjectID].Key() != recs[0].SubjectKey || !subjects[recs[0].SubjectID].IsCall() {
		t.Errorf("subjects = %+v (%v)", subjects, err)
	}
}

// Dead letters are selected by source, kind, when they arrived and died, and a piece of their error in
// any case (written as it is: a % is a %); pending entries never.
func TestScanDeadLettersFilters(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	long := time.Now().Add(-48 * time.Hour)
	add := func(source, kind, lastError string, dead bool, at time.Time) int64 {
		id, err := s.AddToInbox(ctx, source, kind, []byte(`{}`), at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE inbox SET last_error = $2, state = CASE WHEN $3 THEN 'dead' ELSE 'pending' END,
  dead_at = CASE WHEN $3 THEN $4::timestamptz END WHERE id = $1`, id, lastError, dead, at); err != nil {
			t.Fatal(err)
		}
		return id
	}
	oldQA := add("airudder", "qa-result", "unknown kind qa-result", true, long)
	newCall := add("airudder", "call-completed", "Temporal: 100% full", true, time.Now())
	other := add("acme", "call-completed", "Namespace not found", true, time.Now())
	add("airudder", "call-completed", "namespace not found", false, time.Now()) // pending
	for _, tc := range []struct {
		name string
		f    store.DeadLetterFilter
		want []int64
	}{
		{"all", store.DeadLetterFilter{}, []int64{oldQA, newCall, other}},
		{"a source", store.DeadLetterFilter{Source: "airudder"}, []int64{oldQA, newCall}},
		{"a kind", store.DeadLetterFilter{Kind: "call-completed"}, []int64{newCall, other}},
		{"an error in any case", store.DeadLetterFilter{ErrorContains: "NAMESPACE"}, []int64{other}},
		{"a percent sign as it is", store.DeadLetterFilter{ErrorContains: "100%"}, []int64{newCall}},
		{"died a day ago", store.DeadLetterFilter{DeadBefore: time.Now().Add(-24 * time.Hour)}, []int64{oldQA}},
		{"arrived today", store.DeadLetterFilter{ReceivedAfter: time.Now().Add(-time.Hour)}, []int64{newCall, other}},
	} {
		got, err := s.ScanDeadLetters(ctx, tc.f, 0, 10)
		var ids []int64
		for _, d := range got {
			ids = append(ids, d.ID)
		}
		if err != nil || !slices.Equal(ids, tc.want) {
			t.Errorf("%s: %v, want %v (%v)", tc.name, ids, tc.want, err)
		}
		if n, err := s.CountDeadLetters(ctx, tc.f); err != nil || n != int64(len(tc.want)) {
			t.Errorf("%s: counted %d (%v)", tc.name, n, err)
		}
	}
}

// A plan keeps its IDs in order for its run to read a batch at a time; it runs once (a second start
// finds the first), and not after it expired unrun.
func TestBulkPlanKeepsItsIDsAndRunsOnce(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)
	if err := s.SaveBulkPlan(ctx, store.BulkPlan{ID: "bp_a", What: store.BulkFollowUps, Request: []byte(`{}`), CreatedBy: "Ana", ExpiresAt: hour},
		[]int64{5, 3, 9, 1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		offset, limit int
		want          []int64
	}{{0, 2, []int64{5, 3}}, {2, 2, []int64{9, 1}}, {3, 5, []int64{1}}, {4, 5, []int64{}}} {
		got, err := s.BulkPlanIDs(ctx, "bp_a", tc.offset, tc.limit)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("IDs from %d, %d: %v, want %v (%v)", tc.offset, tc.limit, got, tc.want, err)
		}
	}
	p, err := s.GetBulkPlan(ctx, "bp_a")
	if err != nil || p.Matched != 4 || p.CreatedBy != "Ana" || p.WorkflowID != nil {
		t.Fatalf("plan = %+v (%v)", p, err)
	}
	first, err := s.StartBulkPlan(ctx, "bp_a", "bulk/bp_a")
	if err != nil || first.WorkflowID == nil || *first.WorkflowID != "bulk/bp_a" || first.StartedAt == nil {
		t.Fatalf("started = %+v (%v)", first, err)
	}
	again, err := s.StartBulkPlan(ctx, "bp_a", "bulk/other")
	if err != nil || *again.WorkflowID != "bulk/bp_a" || !again.StartedAt.Equal(*first.StartedAt) {
		t.Errorf("started again = %+v (%v), want the first run", again, err)
	}

	if err := s.SaveBulkPlan(ctx, store.BulkPlan{ID: "bp_old", What: store.BulkDeadLetters, Request: []byte(`{}`), ExpiresAt: hour}, []int64{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `UPDATE bulk_plans SET expires_at = now() - interval '1 second' WHERE id = 'bp_old'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartBulkPlan(ctx, "bp_old", "bulk/bp_old"); !errors.Is(err, store.ErrPlanExpired) {
		t.Errorf("expired plan started: %v", err)
	}
	if _, err := s.GetBulkPlan(ctx, "bp_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("no plan: %v", err)
	}
	// Saving a plan forgets those that expired unrun, not those that ran.
	if err := s.SaveBulkPlan(ctx, store.BulkPlan{ID: "bp_b", What: store.BulkFollowUps, Request: []byte(`{}`), ExpiresAt: hour}, []int64{2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBulkPlan(ctx, "bp_old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the expired plan is kept: %v", err)
	}
	if _, err := s.GetBulkPlan(ctx, "bp_a"); err != nil {
		t.Errorf("the plan that ran is forgotten: %v", err)
	}
}
