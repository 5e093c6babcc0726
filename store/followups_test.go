package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	v1, created, err := s.SaveRuleSet(ctx, "d1", "rules: []", "api")
	if err != nil || !created {
		t.Fatalf("first save: %+v %v %v", v1, created, err)
	}
	again, created, _ := s.SaveRuleSet(ctx, "d1", "rules: []", "file:x")
	if created || again.Version != v1.Version {
		t.Errorf("same text made version %d (created %v)", again.Version, created)
	}
	v2, created, _ := s.SaveRuleSet(ctx, "d2", "rules: [x]", "api")
	latest, _ := s.LatestRuleSet(ctx)
	if !created || v2.Version <= v1.Version || latest.Version != v2.Version || latest.Document != "rules: [x]" {
		t.Errorf("second version %+v, latest %+v", v2, latest)
	}
	// Going back to the first text is a change too: it becomes a third version.
	v3, created, _ := s.SaveRuleSet(ctx, "d1", "rules: []", "api")
	if !created || v3.Version <= v2.Version {
		t.Errorf("revert made %+v (created %v)", v3, created)
	}
}

// followUpsFor stores the seed call and a rules version, and returns records ready to insert.
func followUpsFor(t *testing.T, s *store.Store, n int) []store.FollowUpRecord {
	t.Helper()
	ctx := context.Background()
	rc := seedCall(t)
	if _, err := s.StoreRevision(ctx, store.CallRecord{ReceivedCall: rc, WorkflowID: "call/airudder/" + rc.Key}, true); err != nil {
		t.Fatal(err)
	}
	rs, _, err := s.SaveRuleSet(ctx, "d", "rules: []", "api")
	if err != nil {
		t.Fatal(err)
	}
	var out []store.FollowUpRecord
	for i := range n {
		action := []string{"a", "b", "c", "d", "e", "f"}[i]
		out = append(out, store.FollowUpRecord{
			Key: rules.FollowUpKey("call/airudder/"+rc.Key, "r", action), Source: "airudder", CallKey: rc.Key,
			CallWorkflowID: "call/airudder/" + rc.Key, WorkflowID: "fu/" + action, RuleID: "r", RuleVersion: rs.Version,
			Action: action, Type: rules.TypeWebhook, CalleeNumber: "+62811", Status: rules.StatusScheduled,
			Plan: rules.FollowUp{Action: action, Type: rules.TypeWebhook},
		})
	}
	return out
}

func TestInsertFollowUpsIsIdempotentAndKeepsState(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	recs := followUpsFor(t, s, 2)
	first, err := s.InsertFollowUps(ctx, recs)
	if err != nil || len(first) != 2 || first[0].ID == 0 || first[0].Plan.Action != "a" {
		t.Fatalf("insert = %+v, %v", first, err)
	}
	msg := "HTTP 503"
	status := 503
	if err := s.UpdateFollowUp(ctx, recs[0].Key, store.FollowUpUpdate{Status: rules.StatusFailed, CountAttempt: true, LastError: &msg, ResponseStatus: &status, Finished: true}); err != nil {
		t.Fatal(err)
	}
	again, err := s.InsertFollowUps(ctx, recs) // the same plan again (a replayed activity)
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
	if _, err := s.InsertFollowUps(ctx, recs); err != nil {
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
