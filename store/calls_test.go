package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

func seedCall(t *testing.T) airudder.ReceivedCall {
	t.Helper()
	return airudder.ExampleCalls("airudder", time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC))[0]
}

func TestUpsertCallRoundTrip(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	in := store.CallRecord{ReceivedCall: seedCall(t), WorkflowID: "call/airudder/cad907xxxxxxxx35644a"}

	in.ParseNotes = []airudder.ParseNote{{Field: "DueDate", Text: "31/12/2024", Why: "not a date"}}
	stored, err := s.StoreRevision(ctx, airudder.CallSubject(in.ReceivedCall), in.WorkflowID, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCall(ctx, "airudder", in.Key)
	if err != nil {
		t.Fatal(err)
	}
	// Every typed field comes back as it went in.
	if !reflect.DeepEqual(normalise(t, got.Call), normalise(t, in.Call)) {
		t.Errorf("call differs:\n got %s\nwant %s", mustJSON(t, got.Call), mustJSON(t, in.Call))
	}
	if got.Task != in.Task || got.WorkflowID != in.WorkflowID || !got.ReceivedAt.Equal(in.ReceivedAt) || got.SubjectID != stored.SubjectID {
		t.Errorf("record = %+v", got)
	}
	if len(got.ParseNotes) != 1 || got.ParseNotes[0] != in.ParseNotes[0] || got.Digest != in.Digest || got.Revision != 1 {
		t.Errorf("notes %+v, digest %s, revision %d", got.ParseNotes, got.Digest, got.Revision)
	}
	if got.Call.BorrowedAmount.String() != "20000.00" {
		t.Errorf("BorrowedAmount = %s, want the scale kept", got.Call.BorrowedAmount)
	}
	if !sameJSON(got.RawCall, string(in.RawCall)) || !sameJSON(got.RawTask, string(in.RawTask)) {
		t.Errorf("raw detail or envelope differs")
	}
	// Read as its subject, it is the same call.
	subj, err := s.GetSubject(ctx, stored.SubjectID)
	if err != nil || !subj.IsCall() || subj.WorkflowID != in.WorkflowID || subj.Call.Key != in.Key || subj.Kind() != airudder.KindCallCompleted ||
		subj.Call.Kind != "" || !reflect.DeepEqual(normalise(t, subj.Call.Call), normalise(t, got.Call)) {
		t.Errorf("subject = %+v, %v", subj, err)
	}
}

// The same delivery again is the same revision; a different one is the next revision and, received later,
// becomes the call's row with its redials; an older one relayed late is kept without hiding the newer.
func TestStoreRevisionKeepsEveryDistinctDelivery(t *testing.T) {
	t.Parallel()
	db := storetest.DB(t)
	s := store.New(db)
	ctx := context.Background()
	const wf = "call/airudder/x"
	first := seedCall(t)
	var id int64
	for i := range 3 {
		got, err := s.StoreRevision(ctx, airudder.CallSubject(first), wf, false)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			id = got.SubjectID
		}
		if got != (store.Stored{SubjectID: id, Revision: 1, New: i == 0, Latest: true}) || id == 0 {
			t.Errorf("store %d = %+v", i, got)
		}
	}
	d1 := store.Delivery{WorkflowID: wf, Digest: first.Digest}
	if done, err := s.ProcessedDeliveries(ctx, []store.Delivery{d1}); err != nil || done[d1] {
		t.Errorf("stored by the receiver, yet processed (%v)", err)
	}
	if got, _ := s.StoreRevision(ctx, airudder.CallSubject(first), wf, true); got.New {
		t.Errorf("marking processed stored anew: %+v", got)
	}
	other := store.Delivery{WorkflowID: wf, Digest: "another"}
	if done, _ := s.ProcessedDeliveries(ctx, []store.Delivery{d1, other}); !done[d1] || done[other] || len(done) != 1 {
		t.Errorf("processed deliveries = %v, want only the first", done)
	}

	second := first
	second.ReceivedAt = first.ReceivedAt.Add(time.Minute)
	second.Call.RedialCalls = append(second.Call.RedialCalls, airudder.Redial{CallID: "second"})
	second.Call.Intention = "A"
	second.Digest = "digest-2"
	if got, err := s.StoreRevision(ctx, airudder.CallSubject(second), wf, true); err != nil || got != (store.Stored{SubjectID: id, Revision: 2, New: true, Latest: true}) {
		t.Fatalf("second = %+v, %v", got, err)
	}
	late := first
	late.Digest = "digest-0"
	late.ReceivedAt = first.ReceivedAt.Add(-time.Minute)
	late.Call.Intention = "OLD"
	if got, err := s.StoreRevision(ctx, airudder.CallSubject(late), wf, true); err != nil || got != (store.Stored{SubjectID: id, Revision: 3, New: true, Latest: false}) {
		t.Fatalf("late = %+v, %v", got, err)
	}
	var calls, redials int
	_ = db.Get(&calls, "SELECT count(*) FROM calls")
	_ = db.Get(&redials, "SELECT count(*) FROM call_redials")
	if calls != 1 || redials != 2 {
		t.Errorf("calls, redials = %d, %d; want 1, 2", calls, redials)
	}
	got, _ := s.GetCall(ctx, "airudder", first.Key)
	if got.Call.Intention != "A" || got.Call.RedialCalls[1].CallID != "second" || got.Revision != 2 || got.Digest != "digest-2" {
		t.Errorf("latest not shown: revision %d, %+v", got.Revision, got.Call)
	}
	revs, err := s.Revisions(ctx, id)
	if err != nil || len(revs) != 3 || revs[0].Digest != first.Digest || revs[1].Digest != "digest-2" || revs[2].ProcessedAt == nil {
		t.Errorf("revisions = %+v, %v", revs, err)
	}
	// The late one, marked again, is still the third revision and still not shown.
	if got, err := s.MarkProcessed(ctx, wf, "digest-0"); err != nil || got != (store.Stored{SubjectID: id, Revision: 3}) {
		t.Errorf("mark late = %+v, %v", got, err)
	}
	if _, err := s.MarkProcessed(ctx, wf, "never-stored"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark unknown digest: %v", err)
	}
	if _, err := s.MarkProcessed(ctx, "call/airudder/unknown", first.Digest); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mark unknown subject: %v", err)
	}
}

func TestGetCallNotFound(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	if _, err := s.GetCall(context.Background(), "airudder", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("err = %v", err)
	}
}

func TestListCallsFiltersAndPages(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	base := seedCall(t)
	for i := range 7 {
		rc := base
		rc.Call.CallID = fmt.Sprintf("call-%d", i)
		rc.Key = rc.Call.CallID
		rc.Call.CaseID = []string{"case-a", "case-b"}[i%2]
		rc.Call.Intention = []string{"PTP", "WN", "NFU"}[i%3]
		rc.Call.RedialCalls = nil
		for j := range i { // call-i has i redials, so a page shows whether each call got its own
			rc.Call.RedialCalls = append(rc.Call.RedialCalls, airudder.Redial{CallID: fmt.Sprintf("r-%d-%d", i, j)})
		}
		if _, err := s.StoreRevision(ctx, airudder.CallSubject(rc), "wf-"+rc.Key, true); err != nil {
			t.Fatal(err)
		}
	}
	// case-a holds calls 0, 2, 4, 6; newest first, in pages of 3.
	page1, next, err := s.ListCalls(ctx, store.CallFilter{CaseID: "case-a", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if keys(page1) != "call-6,call-4,call-2" || next == 0 {
		t.Fatalf("page 1 = %s, next %d", keys(page1), next)
	}
	for _, rec := range page1 {
		var i int
		fmt.Sscanf(rec.Key, "call-%d", &i)
		if len(rec.Call.RedialCalls) != i || (i > 0 && rec.Call.RedialCalls[i-1].CallID != fmt.Sprintf("r-%d-%d", i, i-1)) {
			t.Errorf("%s has redials %+v", rec.Key, rec.Call.RedialCalls)
		}
	}
	page2, next, _ := s.ListCalls(ctx, store.CallFilter{CaseID: "case-a", Limit: 3, Before: next})
	if keys(page2) != "call-0" || next != 0 {
		t.Errorf("page 2 = %s, next %d", keys(page2), next)
	}
	both, _, _ := s.ListCalls(ctx, store.CallFilter{CaseID: "case-b", Intention: "NFU", Limit: 10})
	if keys(both) != "call-5" {
		t.Errorf("case-b and NFU = %s", keys(both))
	}
	none, _, _ := s.ListCalls(ctx, store.CallFilter{CalleeNumber: "+1000", Limit: 10})
	if len(none) != 0 {
		t.Errorf("unknown callee = %s", keys(none))
	}
}

func keys(recs []store.CallRecord) string {
	s := ""
	for i, r := range recs {
		if i > 0 {
			s += ","
		}
		s += r.Key
	}
	return s
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// normalise compares calls through their JSON form, where jsonb's re-spacing of objects does not show.
func normalise(t *testing.T, c airudder.Call) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(mustJSON(t, c)), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
