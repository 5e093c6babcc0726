package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// readEvent reads body as an event of the kind with this route, received by source "airudder" at at.
func readEvent(t *testing.T, route string, body []byte, at time.Time) airudder.Event {
	t.Helper()
	ev, err := airudder.ReadExampleEvent(route, body, "airudder", at)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func eventWorkflowID(e airudder.Event) string {
	return "event/" + e.Source + "/" + e.Kind + "/" + e.Key
}

func TestStoreEventRoundTripAndRevisions(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	at := time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)
	for _, ex := range []struct {
		route string
		body  []byte
	}{
		{airudder.KindListCompleted, airudder.ExampleListCompleted},
		{airudder.KindStatusChanged, airudder.ExampleStatusChanged},
		{airudder.KindQAResult, airudder.ExampleQAResult},
		{airudder.KindPDS, airudder.ExamplePDSTaskStatus},
		{airudder.KindPDS, airudder.ExamplePDSContactStatus},
		{airudder.KindPDS, airudder.ExamplePDSAgentStatus},
	} {
		ev := readEvent(t, ex.route, ex.body, at)
		wf := eventWorkflowID(ev)
		var id int64
		for i := range 2 {
			got, err := s.StoreRevision(ctx, airudder.EventSubject(ev), wf, i == 1)
			if err != nil {
				t.Fatalf("%s: %v", ev.On, err)
			}
			id = got.SubjectID
			if got != (store.Stored{SubjectID: id, Revision: 1, New: i == 0, Latest: true}) || id == 0 {
				t.Errorf("%s: store %d = %+v", ev.On, i, got)
			}
		}
		d := store.Delivery{WorkflowID: wf, Digest: ev.Digest}
		done, err := s.ProcessedDeliveries(ctx, []store.Delivery{d})
		if err != nil || !done[d] {
			t.Errorf("%s: processed = %v, %v", ev.On, done, err)
		}
		back, err := s.GetEventByKey(ctx, ev.Source, ev.Kind, ev.Key)
		if err != nil {
			t.Fatal(err)
		}
		if back.SubjectID != id || back.WorkflowID != wf || back.On != ev.On || back.TaskID != ev.TaskID || back.CallID != ev.CallID ||
			back.CaseID != ev.CaseID || back.CalleeNumber != ev.CalleeNumber || back.Summary != ev.Summary || back.Revision != 1 {
			t.Errorf("%s: back = %+v", ev.On, back.Event)
		}
		if (ev.PDS == nil) != (back.PDS == nil) || (ev.QAResult == nil) != (back.QAResult == nil) ||
			(ev.ListCompleted == nil) != (back.ListCompleted == nil) || (ev.StatusChanged == nil) != (back.StatusChanged == nil) {
			t.Errorf("%s: typed body lost", ev.On)
		}
		var raw, want map[string]any
		_ = json.Unmarshal(back.Raw, &raw)
		_ = json.Unmarshal(ev.Raw, &want)
		if len(raw) == 0 || len(raw) != len(want) {
			t.Errorf("%s: raw = %s", ev.On, back.Raw)
		}
		if _, ok := raw["Sign"]; ok {
			t.Errorf("%s: the Sign was stored", ev.On)
		}
	}
	// A corrected redelivery is the next revision and, received later, the row.
	ev := readEvent(t, airudder.KindListCompleted, airudder.ExampleListCompleted, at)
	fixed := readEvent(t, airudder.KindListCompleted, []byte(strings.Replace(string(airudder.ExampleListCompleted), `"workflow_name"`, `"note": "fixed", "workflow_name"`, 1)), at.Add(time.Minute))
	if fixed.Key != ev.Key || fixed.Digest == ev.Digest {
		t.Fatalf("the corrected body has key %s digest %s", fixed.Key, fixed.Digest)
	}
	got, err := s.StoreRevision(ctx, airudder.EventSubject(fixed), eventWorkflowID(fixed), true)
	if err != nil || got.Revision != 2 || !got.New || !got.Latest {
		t.Fatalf("corrected = %+v, %v", got, err)
	}
	revs, err := s.Revisions(ctx, got.SubjectID)
	if err != nil || len(revs) != 2 || revs[1].Digest != fixed.Digest {
		t.Errorf("revisions = %+v, %v", revs, err)
	}
	// The first delivery relayed late is its old revision and does not hide the correction.
	if late, err := s.StoreRevision(ctx, airudder.EventSubject(ev), eventWorkflowID(ev), true); err != nil || late != (store.Stored{SubjectID: got.SubjectID, Revision: 1}) {
		t.Errorf("late first = %+v, %v", late, err)
	}
	back, err := s.GetEventByKey(ctx, ev.Source, ev.Kind, ev.Key)
	if err != nil || back.Digest != fixed.Digest || back.Revision != 2 {
		t.Fatalf("row shows %+v (%v)", back, err)
	}
	if byID, err := s.GetEvent(ctx, back.ID); err != nil || byID.SubjectID != got.SubjectID || byID.Digest != fixed.Digest {
		t.Errorf("by ID: %+v, %v", byID, err)
	}

	all, next, err := s.ListEvents(ctx, store.EventFilter{Limit: 100})
	if err != nil || len(all) != 6 || next != 0 {
		t.Errorf("all events: %d, next %d, %v", len(all), next, err)
	}
	pds, _, err := s.ListEvents(ctx, store.EventFilter{Kind: airudder.KindPDS, Limit: 2})
	if err != nil || len(pds) != 2 || pds[0].ID < pds[1].ID {
		t.Errorf("pds page = %d, %v", len(pds), err)
	}
	agent, _, err := s.ListEvents(ctx, store.EventFilter{On: "pds.agent_status", CallID: "pds0c41fxxxxxxxx77e2", Limit: 10})
	if err != nil || len(agent) != 1 || agent[0].PDS == nil || agent[0].PDS.State != "HANGUP" {
		t.Errorf("agent events = %+v, %v", agent, err)
	}
	if _, err := s.GetEvent(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing event: %v", err)
	}
}

// A PDS agent's call result is a call of the PDS family; for one callid, the event with the later
// timestamp is the call's row, and an older one, however late it arrives, never overwrites it.
func TestPDSCallsKeepTheLatestEvent(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	at := time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)
	agent := func(state string, ts int64, remarks string, received time.Time) airudder.ReceivedCall {
		body := `{"type":"AgentStatus","body":{"taskId":"t1","callid":"c-77","phoneNumber":"+6281234567890","agentName":"Ana",
"State":"` + state + `","timestamp":` + jsonNumber(ts) + `,"talkremarks":"` + remarks + `","customizeResults":{"Level1":"PTP","PTP Date":"2024-03-20"}}}`
		ev := readEvent(t, airudder.KindPDS, []byte(body), received)
		if ev.Call == nil {
			t.Fatalf("%s: no call", state)
		}
		return *ev.Call
	}
	talk := agent("TALKRESULT", 1710127290000, "will pay", at)
	hangup := agent("HANGUP", 1710127230000, "", at.Add(time.Minute)) // older event, received later
	for _, rc := range []airudder.ReceivedCall{talk, hangup} {
		if _, err := s.StoreRevision(ctx, airudder.CallSubject(rc), "call/airudder/"+rc.Key, true); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetCall(ctx, "airudder", talk.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Family() != airudder.FamilyPDS || got.Call.Remarks != "will pay" || got.Revision != 1 || got.Call.Intention != "PTP" ||
		got.Call.Agent != "Ana" || got.EventTime == nil || !got.EventTime.Equal(*talk.EventTime) {
		t.Errorf("call = family %s, remarks %q, revision %d, intention %q, agent %q, time %v", got.Family(), got.Call.Remarks,
			got.Revision, got.Call.Intention, got.Call.Agent, got.EventTime)
	}
	var results map[string]string
	if err := json.Unmarshal(got.Call.Results, &results); err != nil || results["PTP Date"] != "2024-03-20" {
		t.Errorf("results = %s (%v)", got.Call.Results, err)
	}
	if revs, err := s.Revisions(ctx, got.SubjectID); err != nil || len(revs) != 2 {
		t.Errorf("revisions = %d, %v", len(revs), err)
	}
	// A later event does overwrite.
	later := agent("TALKRESULT", 1710127350000, "paid already", at.Add(-time.Hour))
	if st, err := s.StoreRevision(ctx, airudder.CallSubject(later), "call/airudder/"+later.Key, true); err != nil || !st.Latest {
		t.Errorf("later = %+v, %v", st, err)
	}
	if got, _ := s.GetCall(ctx, "airudder", talk.Key); got == nil || got.Call.Remarks != "paid already" {
		t.Errorf("the later event is not the row: %+v", got)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The states of one PDS call are events of their own: one that happened before another already stored
// about the same call is stale (it plans nothing), whenever it arrives; the newer ones, another call's,
// and another type's (a contact's state) are not.
func TestAnEventOlderThanOneStoredAboutItsCallIsStale(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	at := time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)
	state := func(typ, state, callID string, ts int64) airudder.Event {
		key := "State"
		if typ != airudder.PDSAgentStatus {
			key = "state"
		}
		return readEvent(t, airudder.KindPDS, []byte(`{"type":"`+typ+`","body":{"taskId":"t1","callid":"`+callID+
			`","phoneNumber":"+6281234567890","`+key+`":"`+state+`","timestamp":`+jsonNumber(ts)+`}}`), at)
	}
	put := func(ev airudder.Event) store.Stored {
		t.Helper()
		st, err := s.StoreRevision(ctx, airudder.EventSubject(ev), eventWorkflowID(ev), true)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	talk := state(airudder.PDSAgentStatus, "TALKRESULT", "c-1", 1710127290000)
	if st := put(talk); st.Stale || !st.Latest {
		t.Errorf("the first state: %+v", st)
	}
	hangup := state(airudder.PDSAgentStatus, "HANGUP", "c-1", 1710127230000) // happened before, arrives after
	if st := put(hangup); !st.Stale || !st.Latest {
		t.Errorf("the older state, arriving late: %+v, want stale", st)
	}
	if st := put(hangup); !st.Stale || st.New {
		t.Errorf("the older state again: %+v, want stale", st)
	}
	if st := put(state(airudder.PDSAgentStatus, "ANSWERED", "c-2", 1710127000000)); st.Stale {
		t.Errorf("another call's state: %+v", st)
	}
	if st := put(state(airudder.PDSContactStatus, "Answered", "c-1", 1710127000000)); st.Stale {
		t.Errorf("a contact's state of the call: %+v (another type, ordered on its own)", st)
	}
	if st := put(state(airudder.PDSAgentStatus, "TALKRESULT", "c-1", 1710127350000)); st.Stale {
		t.Errorf("a newer state: %+v", st)
	}
	// Stored by the receiver first (a large event), it says the same when its workflow marks it.
	if st, err := s.MarkProcessed(ctx, eventWorkflowID(talk), talk.Digest); err != nil || !st.Stale {
		t.Errorf("marked: %+v, %v; want stale now that a later TALKRESULT is stored", st, err)
	}
}
