package store_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// subjectAt is a delivery of one subject of either kind, with its digest, when it happened, when it
// arrived and a text that shows which delivery the subject's row holds.
type subjectAt func(digest string, happened, received time.Time, text string) airudder.Subject

var subjectKinds = map[string]subjectAt{
	"call": func(digest string, happened, received time.Time, text string) airudder.Subject {
		rc := airudder.ExampleCalls("airudder", received)[0]
		rc.Kind, rc.Key, rc.Digest, rc.EventTime = airudder.KindPDS, "pds/c-1", digest, &happened
		rc.Call.Remarks = text
		rc.RawCall = json.RawMessage(`{"callid": "c-1", "talkremarks": "` + text + `"}`)
		return airudder.CallSubject(rc)
	},
	"event": func(digest string, happened, received time.Time, text string) airudder.Subject {
		return airudder.EventSubject(airudder.Event{Kind: airudder.KindPDS, On: "pds.agent_status", Source: "airudder",
			ReceivedAt: received, Key: "AgentStatus/c-1", Digest: digest, Time: &happened, CallID: "c-1", Summary: text,
			Raw: json.RawMessage(`{"type": "AgentStatus", "body": {"talkremarks": "` + text + `"}}`)})
	},
}

// shows is the text of the delivery the subject's typed row and raw JSON hold.
func shows(t *testing.T, s *store.Store, id int64) string {
	t.Helper()
	rec, err := s.GetSubject(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.IsCall() {
		var raw struct{ Talkremarks string }
		_ = json.Unmarshal(rec.Call.RawCall, &raw)
		if raw.Talkremarks != rec.Call.Call.Remarks {
			t.Errorf("the row shows %q, its raw JSON %q", rec.Call.Call.Remarks, raw.Talkremarks)
		}
		return rec.Call.Call.Remarks
	}
	var raw struct{ Body struct{ Talkremarks string } }
	_ = json.Unmarshal(rec.Event.Raw, &raw)
	if raw.Body.Talkremarks != rec.Event.Summary {
		t.Errorf("the row shows %q, its raw JSON %q", rec.Event.Summary, raw.Body.Talkremarks)
	}
	return rec.Event.Summary
}

// StoreRevision is one path for calls and events alike: the same digest is the same revision (marked
// processed when asked); a new digest is the next revision; where deliveries say when they happened, the
// later one is shown whenever it arrives, and an older one never hides it.
func TestStoreRevisionIsOnePathForEveryKind(t *testing.T) {
	t.Parallel()
	for name, at := range subjectKinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := store.New(storetest.DB(t))
			ctx := context.Background()
			wf := name + "/airudder/c-1"
			t0 := time.Date(2024, 3, 11, 3, 0, 0, 0, time.UTC)
			store1 := func(subj airudder.Subject, processed bool) store.Stored {
				t.Helper()
				got, err := s.StoreRevision(ctx, subj, wf, processed)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}

			talk := at("d-talk", t0.Add(time.Minute), t0.Add(time.Hour), "will pay")
			first := store1(talk, false)
			if first.SubjectID == 0 || first != (store.Stored{SubjectID: first.SubjectID, Revision: 1, New: true, Latest: true}) {
				t.Fatalf("first = %+v", first)
			}
			id := first.SubjectID
			d := store.Delivery{WorkflowID: wf, Digest: "d-talk"}
			if done, _ := s.ProcessedDeliveries(ctx, []store.Delivery{d}); done[d] {
				t.Error("stored unprocessed, yet processed")
			}
			if again := store1(talk, true); again != (store.Stored{SubjectID: id, Revision: 1, Latest: true}) {
				t.Errorf("the same digest again = %+v", again)
			}
			if done, _ := s.ProcessedDeliveries(ctx, []store.Delivery{d}); !done[d] {
				t.Error("the same digest, processed, is not marked processed")
			}

			// An event that happened earlier, arriving later: revision 2, not shown.
			hangup := at("d-hangup", t0, t0.Add(2*time.Hour), "hung up")
			if got := store1(hangup, true); got != (store.Stored{SubjectID: id, Revision: 2, New: true}) {
				t.Errorf("older event = %+v", got)
			}
			if got := shows(t, s, id); got != "will pay" {
				t.Errorf("after an older event the subject shows %q", got)
			}
			// One that happened later, arriving before both: revision 3, shown.
			paid := at("d-paid", t0.Add(2*time.Minute), t0.Add(-time.Hour), "paid already")
			if got := store1(paid, false); got != (store.Stored{SubjectID: id, Revision: 3, New: true, Latest: true}) {
				t.Errorf("later event = %+v", got)
			}
			if got := shows(t, s, id); got != "paid already" {
				t.Errorf("after a later event the subject shows %q", got)
			}
			// The one the receiver stored unprocessed is marked by its workflow.
			if got, err := s.MarkProcessed(ctx, wf, "d-paid"); err != nil || got != (store.Stored{SubjectID: id, Revision: 3, Latest: true}) {
				t.Errorf("mark = %+v, %v", got, err)
			}
			revs, err := s.Revisions(ctx, id)
			if err != nil || len(revs) != 3 {
				t.Fatalf("revisions = %+v, %v", revs, err)
			}
			for i, want := range []string{"d-talk", "d-hangup", "d-paid"} {
				if revs[i].Revision != i+1 || revs[i].Digest != want || revs[i].ProcessedAt == nil {
					t.Errorf("revision %d = %+v", i+1, revs[i])
				}
			}
			rec, err := s.SubjectByWorkflowID(ctx, wf)
			if err != nil || rec.ID != id || rec.Revision != 3 || rec.Digest() != "d-paid" || rec.IsCall() != (name == "call") ||
				rec.Time() == nil || !rec.Time().Equal(t0.Add(2*time.Minute)) {
				t.Errorf("subject = %+v, %v", rec, err)
			}
		})
	}
}

// Which deliveries were processed is one query, whatever their subjects' kinds.
func TestProcessedDeliveriesAcrossKinds(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	t0 := time.Date(2024, 3, 11, 3, 0, 0, 0, time.UTC)
	call, event := subjectKinds["call"]("d-call", t0, t0, "x"), subjectKinds["event"]("d-event", t0, t0, "x")
	if _, err := s.StoreRevision(ctx, call, "call/airudder/pds/c-1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoreRevision(ctx, event, "event/airudder/pds/AgentStatus/c-1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoreRevision(ctx, subjectKinds["event"]("d-large", t0, t0.Add(time.Minute), "y"), "event/airudder/pds/AgentStatus/c-1", false); err != nil {
		t.Fatal(err)
	}
	d := func(wf, digest string) store.Delivery { return store.Delivery{WorkflowID: wf, Digest: digest} }
	got, err := s.ProcessedDeliveries(ctx, []store.Delivery{
		d("call/airudder/pds/c-1", "d-call"), d("event/airudder/pds/AgentStatus/c-1", "d-event"),
		d("event/airudder/pds/AgentStatus/c-1", "d-large"), // stored, not processed
		d("event/airudder/pds/AgentStatus/c-1", "d-call"),  // another subject's digest
		d("call/airudder/pds/c-2", "d-call"),               // no such subject
	})
	want := map[store.Delivery]bool{d("call/airudder/pds/c-1", "d-call"): true, d("event/airudder/pds/AgentStatus/c-1", "d-event"): true}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("processed = %v, %v; want %v", got, err, want)
	}
}
