package store_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// oldRowsSQL stores, the way the schema of 00008 did, a call completion with two revisions (the second
// shown), a redial and a follow-up; an info check's call; a PDS call; a QA result event with a
// follow-up (whose call_key and call_workflow_id were the event's workflow ID); and a follow-up whose
// call was deleted by hand.
const oldRowsSQL = `
INSERT INTO rule_sets (digest, document, origin) VALUES ('d', 'rules: []', 'api');
INSERT INTO calls (source, call_key, workflow_id, intention, callee_number, raw_detail, raw_task, received_at,
  revision, digest, parse_notes)
VALUES ('airudder', 'c1', 'call/airudder/c1', 'A', '+62811', '{"CallId": "c1", "Intention": "A"}', '{"TaskId": "t1"}',
  '2024-03-11T03:22:00Z', 2, 'd2', '[{"field": "DueDate", "text": "x", "why": "not a date"}]');
INSERT INTO call_redials (source, call_key, position, call_id, callee_number) VALUES ('airudder', 'c1', 0, 'r1', '+62811');
INSERT INTO call_revisions (source, call_key, revision, digest, raw_detail, raw_task, received_at, processed_at)
VALUES ('airudder', 'c1', 1, 'd1', '{"CallId": "c1", "Intention": "B"}', '{"TaskId": "t1"}', '2024-03-11T03:21:00Z', now()),
       ('airudder', 'c1', 2, 'd2', '{"CallId": "c1", "Intention": "A"}', '{"TaskId": "t1"}', '2024-03-11T03:22:00Z', NULL);
INSERT INTO calls (source, call_key, workflow_id, kind, raw_detail, raw_task, received_at, digest)
VALUES ('airudder', 'c2', 'call/airudder/c2', 'info-check-completed', '{"CallId": "c2"}', '{}', '2024-03-11T03:23:00Z', 'i1');
INSERT INTO call_revisions (source, call_key, revision, digest, raw_detail, raw_task, received_at, processed_at)
VALUES ('airudder', 'c2', 1, 'i1', '{"CallId": "c2"}', '{}', '2024-03-11T03:23:00Z', now());
INSERT INTO calls (source, call_key, workflow_id, kind, family, event_time, raw_detail, raw_task, received_at, digest)
VALUES ('airudder', 'pds/c3', 'call/airudder/pds/c3', 'pds', 'pds', '2024-03-11T03:00:00Z', '{"callid": "c3"}', '{}',
  '2024-03-11T03:24:00Z', 'p1');
INSERT INTO call_revisions (source, call_key, revision, digest, raw_detail, raw_task, received_at, processed_at)
VALUES ('airudder', 'pds/c3', 1, 'p1', '{"callid": "c3"}', '{}', '2024-03-11T03:24:00Z', now());
INSERT INTO events (source, kind, event_on, event_key, workflow_id, task_id, summary, raw, revision, digest, received_at)
VALUES ('airudder', 'qa-result', 'qa_result', 'k1', 'event/airudder/qa-result/k1', 't9', 'QA of t9', '{"taskId": "t9"}', 1, 'e1',
  '2024-03-11T03:25:00Z');
INSERT INTO event_revisions (event_id, revision, digest, raw, received_at, processed_at)
SELECT id, 1, 'e1', raw, received_at, now() FROM events;
INSERT INTO follow_ups (idempotency_key, source, call_key, call_workflow_id, rule_id, rule_version, action, action_type, plan, status)
SELECT 'fu-call', 'airudder', 'c1', 'call/airudder/c1', 'r', version, 'a', 'webhook', '{}', 'failed' FROM rule_sets;
INSERT INTO follow_ups (idempotency_key, source, call_key, call_workflow_id, rule_id, rule_version, action, action_type, plan, status, event_id)
SELECT 'fu-event', 'airudder', 'event/airudder/qa-result/k1', 'event/airudder/qa-result/k1', 'r', version, 'a', 'webhook', '{}',
  'failed', (SELECT id FROM events) FROM rule_sets;
INSERT INTO follow_ups (idempotency_key, source, call_key, call_workflow_id, rule_id, rule_version, action, action_type, plan, status)
SELECT 'fu-orphan', 'airudder', 'gone', 'call/airudder/gone', 'r', version, 'a', 'webhook', '{}', 'failed' FROM rule_sets;
`

// 00010 turns every call and event into a subject, every revision into a subject revision and links
// every follow-up to its subject, so that what was stored before reads through the store as if stored
// now; its Down gives the old tables back.
func TestSubjectsMigrationBackfillsCallsEventsRevisionsAndFollowUps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.EmptyURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := store.MigrateTo(ctx, db, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, oldRowsSQL); err != nil {
		t.Fatal(err)
	}
	var eventID int64
	if err := db.GetContext(ctx, &eventID, "SELECT id FROM events"); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	s := store.New(db)

	var subjects []struct {
		WorkflowID string     `db:"workflow_id"`
		Kind       string     `db:"kind"`
		On         string     `db:"subject_on"`
		Key        string     `db:"subject_key"`
		Revision   int        `db:"revision"`
		EventTime  *time.Time `db:"event_time"`
	}
	if err := db.SelectContext(ctx, &subjects, "SELECT workflow_id, kind, subject_on, subject_key, revision, event_time FROM subjects ORDER BY workflow_id"); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, s := range subjects {
		got += s.WorkflowID + " " + s.Kind + " " + s.On + " " + s.Key + "; "
	}
	if want := "call/airudder/c1 call-completed call_completed c1; call/airudder/c2 info-check-completed info_check_completed c2; " +
		"call/airudder/pds/c3 pds call_completed pds/c3; event/airudder/qa-result/k1 qa-result qa_result k1; "; got != want {
		t.Errorf("subjects:\n got %s\nwant %s", got, want)
	}
	if subjects[2].EventTime == nil || !subjects[2].EventTime.Equal(time.Date(2024, 3, 11, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("the PDS call's event time = %v", subjects[2].EventTime)
	}

	// The call reads whole, showing its second revision, with its redial, notes and both revisions.
	call, err := s.SubjectByWorkflowID(ctx, "call/airudder/c1")
	if err != nil {
		t.Fatal(err)
	}
	if !call.IsCall() || call.Revision != 2 || call.Digest() != "d2" || call.Call.Kind != "" || call.Call.Call.Intention != "A" ||
		len(call.Call.Call.RedialCalls) != 1 || call.Call.Call.RedialCalls[0].CallID != "r1" || len(call.Notes()) != 1 ||
		!sameJSON(call.Call.RawCall, `{"CallId": "c1", "Intention": "A"}`) || !sameJSON(call.Call.RawTask, `{"TaskId": "t1"}`) {
		t.Errorf("call = %+v", call)
	}
	revs, err := s.Revisions(ctx, call.ID)
	if err != nil || len(revs) != 2 || revs[0].Digest != "d1" || revs[0].ProcessedAt == nil || revs[1].Digest != "d2" || revs[1].ProcessedAt != nil {
		t.Errorf("revisions of the call = %+v, %v", revs, err)
	}
	if rec, err := s.GetCall(ctx, "airudder", "c1"); err != nil || rec.SubjectID != call.ID {
		t.Errorf("GetCall = %+v, %v", rec, err)
	}

	// The event keeps its ID, reads whole, and its follow-up is its own, by subject.
	ev, err := s.SubjectByWorkflowID(ctx, "event/airudder/qa-result/k1")
	if err != nil {
		t.Fatal(err)
	}
	if ev.IsCall() || ev.Kind() != "qa-result" || ev.On() != "qa_result" || ev.Key() != "k1" || ev.Event.TaskID != "t9" ||
		!sameJSON(ev.Event.Raw, `{"taskId": "t9"}`) {
		t.Errorf("event = %+v", ev)
	}
	if rec, err := s.GetEvent(ctx, eventID); err != nil || rec.SubjectID != ev.ID {
		t.Errorf("GetEvent(%d) = %+v, %v", eventID, rec, err)
	}

	for _, c := range []struct {
		subject *store.SubjectRecord
		key     string
	}{{call, "fu-call"}, {ev, "fu-event"}} {
		fus, err := s.FollowUpsOf(ctx, c.subject.ID)
		if err != nil || len(fus) != 1 || fus[0].Key != c.key || fus[0].SubjectWorkflowID != c.subject.WorkflowID ||
			fus[0].SubjectKey != c.subject.Key() || fus[0].SubjectKind != c.subject.Kind() {
			t.Errorf("follow-ups of %s = %+v, %v", c.subject.WorkflowID, fus, err)
		}
	}
	var n int
	if err := db.GetContext(ctx, &n, "SELECT count(*) FROM follow_ups"); err != nil || n != 2 {
		t.Errorf("%d follow-ups after the migration (%v); want the two that follow up something", n, err)
	}

	d := func(wf, digest string) store.Delivery { return store.Delivery{WorkflowID: wf, Digest: digest} }
	done, err := s.ProcessedDeliveries(ctx, []store.Delivery{d("call/airudder/c1", "d1"), d("call/airudder/c1", "d2"),
		d("event/airudder/qa-result/k1", "e1")})
	if err != nil || !reflect.DeepEqual(done, map[store.Delivery]bool{d("call/airudder/c1", "d1"): true, d("event/airudder/qa-result/k1", "e1"): true}) {
		t.Errorf("processed = %v, %v", done, err)
	}

	// Down gives the old shape back, with the same links.
	if err := store.MigrateTo(ctx, db, 8); err != nil {
		t.Fatal(err)
	}
	var fus []struct {
		Key      string `db:"idempotency_key"`
		CallKey  string `db:"call_key"`
		Workflow string `db:"call_workflow_id"`
		EventID  *int64 `db:"event_id"`
	}
	if err := db.SelectContext(ctx, &fus, "SELECT idempotency_key, call_key, call_workflow_id, event_id FROM follow_ups ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	if len(fus) != 2 || fus[0].CallKey != "c1" || fus[0].Workflow != "call/airudder/c1" || fus[0].EventID != nil ||
		fus[1].CallKey != "event/airudder/qa-result/k1" || fus[1].EventID == nil || *fus[1].EventID != eventID {
		t.Errorf("follow-ups after Down = %+v", fus)
	}
	var old []string
	if err := db.SelectContext(ctx, &old, `SELECT call_key || ' ' || revision || ' ' || digest || ' ' || family || ' ' || kind || ' ' ||
  (SELECT count(*) FROM call_revisions r WHERE r.source = c.source AND r.call_key = c.call_key) || ' ' ||
  (SELECT count(*) FROM call_redials r WHERE r.source = c.source AND r.call_key = c.call_key) FROM calls c ORDER BY call_key`); err != nil {
		t.Fatal(err)
	}
	if want := []string{"c1 2 d2 workflow  2 1", "c2 1 i1 workflow info-check-completed 1 0", "pds/c3 1 p1 pds pds 1 0"}; !reflect.DeepEqual(old, want) {
		t.Errorf("calls after Down = %q, want %q", old, want)
	}
	if err := db.GetContext(ctx, &n, "SELECT count(*) FROM events e JOIN event_revisions r ON r.event_id = e.id WHERE e.event_key = 'k1' AND e.event_on = 'qa_result'"); err != nil || n != 1 {
		t.Errorf("event revisions after Down: %d (%v)", n, err)
	}
	if err := store.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if fus, err := s.FollowUpsOf(ctx, mustSubject(t, s, "event/airudder/qa-result/k1").ID); err != nil || len(fus) != 1 {
		t.Errorf("follow-ups of the event after Down and Up = %+v, %v", fus, err)
	}
}

func mustSubject(t *testing.T, s *store.Store, workflowID string) *store.SubjectRecord {
	t.Helper()
	rec, err := s.SubjectByWorkflowID(context.Background(), workflowID)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// sameJSON says whether got holds the same JSON value as want (jsonb re-spaces objects).
func sameJSON(got json.RawMessage, want string) bool {
	var a, b any
	return json.Unmarshal(got, &a) == nil && json.Unmarshal([]byte(want), &b) == nil && reflect.DeepEqual(a, b)
}
