package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

func TestRuleSetsRecordAuthorCommentAndRefuseStaleChanges(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	v1, _, err := s.SaveRuleSet(ctx, "d1", "one", store.RuleSetChange{Origin: "file:/r.yaml", Author: "rules file"})
	if err != nil {
		t.Fatal(err)
	}
	v2, created, err := s.SaveRuleSet(ctx, "d2", "two", store.RuleSetChange{Origin: "ui", Author: "Ana", Comment: "later", BaseVersion: v1.Version})
	if err != nil || !created || v2.Author != "Ana" || v2.Comment != "later" {
		t.Fatalf("v2 = %+v %v %v", v2, created, err)
	}
	if got, _ := s.RuleSet(ctx, v2.Version); got.Author != "Ana" || got.Comment != "later" || got.Origin != "ui" {
		t.Errorf("stored v2 = %+v", got)
	}
	// Made from version 1 while version 2 is in force: it would undo version 2 unseen.
	if _, created, err := s.SaveRuleSet(ctx, "d3", "three", store.RuleSetChange{Origin: "ui", Author: "Budi", BaseVersion: v1.Version}); !errors.Is(err, store.ErrConflict) || created {
		t.Errorf("a stale change: created %v, %v", created, err)
	}
	if latest, _ := s.LatestRuleSet(ctx); latest.Version != v2.Version {
		t.Errorf("in force: %d", latest.Version)
	}
	from, err := s.LatestRuleSetFrom(ctx, "file:/r.yaml")
	if err != nil || from.Version != v1.Version {
		t.Errorf("latest from the file = %+v %v", from, err)
	}
	if _, err := s.LatestRuleSetFrom(ctx, "file:/other.yaml"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another file: %v", err)
	}
}

func TestRuleActivityCountsCallsAndFollowUpsByStatusSince(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	recs := followUpsFor(t, s, 3)
	recs[2].RuleID = "other"
	if _, err := s.InsertFollowUps(ctx, recs[0].SubjectID, recs); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateFollowUp(ctx, recs[1].Key, store.FollowUpUpdate{Status: rules.StatusSucceeded, Finished: true}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RuleActivitySince(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*store.RuleActivity{
		"r":     {RuleID: "r", Calls: 1, FollowUps: 2, ByStatus: map[rules.Status]int{rules.StatusScheduled: 1, rules.StatusSucceeded: 1}},
		"other": {RuleID: "other", Calls: 1, FollowUps: 1, ByStatus: map[rules.Status]int{rules.StatusScheduled: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("activity = %+v", got)
	}
	if later, _ := s.RuleActivitySince(ctx, time.Now().Add(time.Hour)); len(later) != 0 {
		t.Errorf("activity since a later time = %+v", later)
	}
}

func TestCallValuesAreTheMostFrequentFirst(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	at := time.Now().UTC()
	for i, intention := range []string{"Promise To Pay", "Needs Follow Up", "Promise To Pay", ""} {
		rc := seedCall(t)
		rc.Key = "call-" + string(rune('a'+i))
		rc.ReceivedAt = at
		rc.Call.IntentionDescription = intention
		if _, err := s.StoreRevision(ctx, airudder.CallSubject(rc), "call/airudder/"+rc.Key, true); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.CallValues(ctx, []string{"intention_description", "ring_type", "callee_number"}, at.Add(-time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"intention_description": {"Promise To Pay", "Needs Follow Up"}, "ring_type": {"normal"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v (a field without a column, callee_number, is left out)", got)
	}
}
