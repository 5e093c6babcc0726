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

	if err := s.UpsertCall(ctx, in); err != nil {
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
	if got.Task != in.Task || got.WorkflowID != in.WorkflowID || !got.ReceivedAt.Equal(in.ReceivedAt) {
		t.Errorf("record = %+v", got)
	}
	if got.Call.BorrowedAmount.String() != "20000.00" {
		t.Errorf("BorrowedAmount = %s, want the scale kept", got.Call.BorrowedAmount)
	}
	var raw, want map[string]any
	_ = json.Unmarshal(got.RawCall, &raw)
	_ = json.Unmarshal(in.RawCall, &want)
	if !reflect.DeepEqual(raw, want) {
		t.Errorf("raw detail differs")
	}
}

func TestUpsertCallIsIdempotentAndReplacesRedials(t *testing.T) {
	t.Parallel()
	db := storetest.DB(t)
	s := store.New(db)
	ctx := context.Background()
	rec := store.CallRecord{ReceivedCall: seedCall(t), WorkflowID: "call/airudder/x"}
	for range 3 {
		if err := s.UpsertCall(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	rec.Call.RedialCalls = append(rec.Call.RedialCalls, airudder.Redial{CallID: "second"})
	rec.Call.Intention = "A"
	if err := s.UpsertCall(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var calls, redials int
	_ = db.Get(&calls, "SELECT count(*) FROM calls")
	_ = db.Get(&redials, "SELECT count(*) FROM call_redials")
	if calls != 1 || redials != 2 {
		t.Errorf("calls, redials = %d, %d; want 1, 2", calls, redials)
	}
	got, _ := s.GetCall(ctx, "airudder", rec.Key)
	if got.Call.Intention != "A" || got.Call.RedialCalls[1].CallID != "second" {
		t.Errorf("update lost: %+v", got.Call)
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
		if err := s.UpsertCall(ctx, store.CallRecord{ReceivedCall: rc, WorkflowID: "wf-" + rc.Key}); err != nil {
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

func TestInboxDrainDeletesAcceptedAndDelaysFailed(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	for _, body := range []string{`{"n":1}`, `{"n":2}`} {
		if _, err := s.AddToInbox(ctx, "airudder", "call-completed", []byte(body), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	done, err := s.DrainInbox(ctx, 10, func(_ context.Context, e store.InboxEntry) error {
		seen = append(seen, string(e.Body))
		if string(e.Body) == `{"n":2}` {
			return errors.New("temporal down")
		}
		return nil
	})
	if err != nil || done != 1 || len(seen) != 2 {
		t.Fatalf("done %d, seen %v, err %v", done, seen, err)
	}
	// The failed one waits for its backoff, so a second pass right away finds nothing due.
	done, _ = s.DrainInbox(ctx, 10, func(context.Context, store.InboxEntry) error { return nil })
	depth, _ := s.InboxDepth(ctx)
	if done != 0 || depth != 1 {
		t.Errorf("second pass done %d, depth %d; want 0, 1", done, depth)
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

func TestInboxLeaseKeepsOtherRelaysAway(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	if _, err := s.AddToInbox(ctx, "airudder", "call-completed", []byte(`{}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	// While one relay holds the entry (its handler is running), another finds nothing to do.
	var second int
	_, err := s.DrainInbox(ctx, 10, func(context.Context, store.InboxEntry) error {
		n, err := s.DrainInbox(ctx, 10, func(context.Context, store.InboxEntry) error { second++; return nil })
		if err != nil || n != 0 {
			t.Errorf("second relay: %d, %v", n, err)
		}
		return nil
	})
	if err != nil || second != 0 {
		t.Errorf("err %v, second relay handled %d", err, second)
	}
	if depth, _ := s.InboxDepth(ctx); depth != 0 {
		t.Errorf("depth = %d after the first relay accepted the entry", depth)
	}
}
