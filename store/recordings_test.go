package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// A recording is recorded once per follow-up (a second archive moves the row), and the subject shows
// the one archived last. A source's archive follow-up, planned without any rules version, stores.
func TestRecordingsAreKeptPerFollowUpAndShownByTheirSubject(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	rc := seedCall(t)
	wf := "call/airudder/" + rc.Key
	stored, err := s.StoreRevision(ctx, airudder.CallSubject(rc), wf, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordingOf(ctx, stored.SubjectID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before any archive: %v", err)
	}
	fu := rules.FollowUp{Key: rules.FollowUpKey(wf, rules.SourceArchiveRule, rules.TypeArchiveRecording), RuleID: rules.SourceArchiveRule,
		Action: rules.TypeArchiveRecording, Type: rules.TypeArchiveRecording}
	if _, err := s.InsertFollowUps(ctx, stored.SubjectID, []store.FollowUpRecord{{Key: fu.Key, RuleID: fu.RuleID, Action: fu.Action,
		Type: fu.Type, Plan: fu, Status: rules.StatusScheduled}}); err != nil {
		t.Fatalf("a follow-up of rules version 0 (a source's option): %v", err)
	}
	rec := &store.Recording{SubjectID: stored.SubjectID, FollowUpKey: fu.Key, URL: "https://rec.example/a.wav?token=s",
		BucketKey: "recordings/airudder/c/aa.wav", Location: "file:///b/recordings/airudder/c/aa.wav", Size: 10, SHA256: "aa"}
	if err := s.RecordRecording(ctx, rec); err != nil || rec.ID == 0 || rec.ArchivedAt.IsZero() {
		t.Fatalf("record: %+v %v", rec, err)
	}
	again := *rec
	again.BucketKey, again.SHA256, again.Size = "recordings/airudder/c/bb.wav", "bb", 12
	if err := s.RecordRecording(ctx, &again); err != nil || again.ID != rec.ID {
		t.Fatalf("again: %+v %v", again, err)
	}
	got, err := s.RecordingOf(ctx, stored.SubjectID)
	if err != nil || got.SHA256 != "bb" || got.Size != 12 || got.URL != rec.URL {
		t.Errorf("shown: %+v %v", got, err)
	}
	if byKey, err := s.RecordingByFollowUp(ctx, fu.Key); err != nil || byKey.ID != rec.ID {
		t.Errorf("by follow-up: %+v %v", byKey, err)
	}
}
