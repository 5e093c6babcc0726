package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/workflows"
)

// eventsEnv gives the default source a URL token (so it takes unsigned kinds) and a generic kind.
var eventsEnv = []string{"RUDDERHOOK_SOURCE_AIRUDDER_KEYS=airudder", "RUDDERHOOK_SOURCE_AIRUDDER_TOKEN=s3cret", "RUDDERHOOK_SOURCE_AIRUDDER_KINDS=waba-status=message.id"}

// postKind sends body to /webhooks/{source}/{token}/{kind}.
func (s *system) postKind(source, token, kind string, body []byte) (int, []byte) {
	s.t.Helper()
	path := "/webhooks/" + source + "/"
	if token != "" {
		path += token + "/"
	}
	req, err := http.NewRequest(http.MethodPost, s.http.URL+path+kind, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return s.do(req)
}

// eventOf reads body as the source's kind would, to name the workflow the receiver starts for it.
func (s *system) eventOf(source, kind string, body []byte) *airudder.Event {
	s.t.Helper()
	src := s.cfg.Sources[source]
	k, ok := src.Kind(kind)
	if !ok {
		s.t.Fatalf("source %s takes no %s", source, kind)
	}
	ev, err := ingest.ReadEvent(body, src, k, ingest.AlreadyVerified)
	if err != nil {
		s.t.Fatal(err)
	}
	r := ev.Received(source, ev.ReceivedAt)
	return &r
}

type eventsPage struct {
	Events []struct {
		ID                 int64
		Kind, On, Key      string
		TaskID             string `json:"task_id"`
		CallID             string `json:"call_id"`
		TemporalWorkflowID string `json:"temporal_workflow_id"`
		Raw                map[string]any
	}
	NextCursor string `json:"next_cursor"`
}

// Every kind's example, posted as Airudder would, is answered 200 {} and ends up in PostgreSQL with its
// workflow: events in /v1/events, calls (info check, a PDS agent's call result) in /v1/calls.
func TestEveryKindIsReceivedStoredAndHasAWorkflow(t *testing.T) {
	for _, mode := range []string{"temporal", "inbox"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			everyKindIsReceivedStoredAndHasAWorkflow(t, start(t, options{environ: append(slices.Clone(eventsEnv), "RUDDERHOOK_ACK="+mode)}))
		})
	}
}

func everyKindIsReceivedStoredAndHasAWorkflow(t *testing.T, s *system) {
	var eventIDs []string
	for _, k := range airudder.Kinds() {
		for _, ex := range k.Examples {
			status, body := s.postKind("airudder", "s3cret", k.Route, ex.Body)
			if status != http.StatusOK || string(body) != "{}" {
				t.Fatalf("%s %s: %d %s", k.Route, ex.Name, status, body)
			}
			if k.Calls {
				s.waitWorkflow(workflows.CallWorkflowID("airudder", seedCallID))
				continue
			}
			ev := s.eventOf("airudder", k.Route, ex.Body)
			id := workflows.EventWorkflowIDOf(*ev)
			s.waitWorkflow(id)
			eventIDs = append(eventIDs, id)
			if ev.Call != nil {
				s.waitWorkflow(workflows.CallWorkflowID("airudder", ev.Call.Key))
			}
		}
	}
	waba := []byte(`{"message":{"id":"wamid.HBg1","status":"read"},"phone":"+6281xxxxxxx123"}`)
	if status, body := s.postKind("airudder", "s3cret", "waba-status", waba); status != http.StatusOK || string(body) != "{}" {
		t.Fatalf("waba-status: %d %s", status, body)
	}
	s.waitWorkflow("event/airudder/waba-status/wamid.HBg1")
	eventIDs = append(eventIDs, "event/airudder/waba-status/wamid.HBg1")

	// The same bodies again change nothing, once handed over (their workflows find them processed).
	listID := workflows.EventWorkflowIDOf(*s.eventOf("airudder", airudder.KindListCompleted, airudder.ExampleListCompleted))
	listRun, wabaRun := s.runID(listID), s.runID("event/airudder/waba-status/wamid.HBg1")
	for kind, body := range map[string][]byte{airudder.KindListCompleted: airudder.ExampleListCompleted, "waba-status": waba} {
		if status, resp := s.postKind("airudder", "s3cret", kind, body); status != http.StatusOK {
			t.Fatalf("%s again: %d %s", kind, status, resp)
		}
	}
	s.handedOver()
	if s.runID(listID) != listRun || s.runID("event/airudder/waba-status/wamid.HBg1") != wabaRun {
		t.Errorf("the same bodies again started new runs")
	}

	status, body := s.get("/v1/events?limit=100")
	if status != http.StatusOK {
		t.Fatalf("GET /v1/events = %d %s", status, body)
	}
	var page eventsPage
	mustUnmarshal(t, body, &page)
	if len(page.Events) != len(eventIDs) || s.count("events") != len(eventIDs) || s.count(eventRevisions) != len(eventIDs) {
		t.Errorf("%d events listed, %d rows, %d revisions; want %d", len(page.Events), s.count("events"), s.count(eventRevisions), len(eventIDs))
	}
	for _, e := range page.Events {
		if !strings.HasPrefix(e.TemporalWorkflowID, "event/airudder/"+e.Kind+"/") || len(e.Raw) == 0 || e.Raw["Sign"] != nil {
			t.Errorf("event %d: %+v", e.ID, e)
		}
	}
	// Filters and paging as /v1/calls.
	status, body = s.get("/v1/events?kind=pds&limit=2")
	mustUnmarshal(t, body, &page)
	if status != http.StatusOK || len(page.Events) != 2 || page.NextCursor == "" {
		t.Fatalf("first page of pds events: %d %s", status, body)
	}
	_, body = s.get("/v1/events?kind=pds&limit=2&cursor=" + page.NextCursor)
	page = eventsPage{}
	mustUnmarshal(t, body, &page)
	if len(page.Events) != 1 || page.NextCursor != "" {
		t.Errorf("second page of pds events: %s", body)
	}
	_, body = s.get("/v1/events?on=pds.agent_status&call_id=pds0c41fxxxxxxxx77e2")
	page = eventsPage{}
	mustUnmarshal(t, body, &page)
	if len(page.Events) != 1 || page.Events[0].CallID != "pds0c41fxxxxxxxx77e2" {
		t.Fatalf("agent events of the call: %s", body)
	}
	status, body = s.get("/v1/events/" + jsonText(page.Events[0].ID))
	var one struct {
		PDS       *airudder.PDSEvent `json:"pds"`
		Revisions struct{ Count int }
	}
	mustUnmarshal(t, body, &one)
	if status != http.StatusOK || one.PDS == nil || one.PDS.CustomizeResults["PTP Date"] != "2024-03-15" || one.Revisions.Count != 1 {
		t.Errorf("GET event = %d %s", status, body)
	}
	if status, body := s.get("/v1/events/999999"); status != http.StatusNotFound {
		t.Errorf("missing event: %d %s", status, body)
	}

	// The PDS agent's call result is a call of the PDS family, beside the workflow family's (the info
	// check's example is the call completion's, taken first: the same delivery, so one call).
	status, body = s.get(callPath("pds/pds0c41fxxxxxxxx77e2"))
	var call struct {
		TemporalWorkflowID string `json:"temporal_workflow_id"`
		Call               map[string]any
	}
	mustUnmarshal(t, body, &call)
	if status != http.StatusOK || call.Call["Intention"] != "PTP" || call.Call["talkremarks"] != "promised to pay on Friday" {
		t.Errorf("PDS call = %d %s", status, body)
	}
	var kinds []string
	if err := s.db.Select(&kinds, "SELECT s.kind FROM calls c JOIN subjects s ON s.id = c.subject_id ORDER BY s.kind"); err != nil ||
		strings.Join(kinds, ",") != airudder.KindCallCompleted+","+airudder.KindPDS {
		t.Errorf("calls by kind: %v (%v)", kinds, err)
	}

	// Operators find them in the Temporal UI by kind and by what they are about.
	for query, want := range map[string]int64{
		`Kind = "pds.agent_status"`:                                1,
		`Kind = "qa_result" AND TaskID = "qa7f3c2d1exxxxxxxx55aa"`: 1,
		`Kind = "list_completed" AND CaseID = "7777777.0"`:         1,
		`Kind = "waba_status" AND Source = "airudder"`:             1,
		`WorkflowId STARTS_WITH "event/airudder/"`:                 int64(len(eventIDs)),
	} {
		s.listed(query, want)
	}
}

// For one PDS call, a later event wins and an older one, however late it arrives, never overwrites it.
func TestPDSEventsOutOfOrder(t *testing.T) {
	t.Parallel()
	s := start(t, options{environ: eventsEnv})
	agent := func(state, ts, remarks string) []byte {
		var env map[string]any
		mustUnmarshal(t, airudder.ExamplePDSAgentStatus, &env)
		b := env["body"].(map[string]any)
		b["State"], b["timestamp"], b["talkremarks"] = state, ts, remarks
		out, _ := json.Marshal(env)
		return out
	}
	later := agent("TALKRESULT", "1710127290000", "will pay Friday")
	older := agent("HANGUP", "1710127230000", "")
	for _, body := range [][]byte{later, older} {
		if status, resp := s.postKind("airudder", "s3cret", airudder.KindPDS, body); status != http.StatusOK {
			t.Fatalf("post: %d %s", status, resp)
		}
		s.waitWorkflow(workflows.EventWorkflowIDOf(*s.eventOf("airudder", airudder.KindPDS, body)))
	}
	s.waitWorkflow("call/airudder/pds/pds0c41fxxxxxxxx77e2")
	_, body := s.get(callPath("pds/pds0c41fxxxxxxxx77e2"))
	var call struct {
		Call      map[string]any
		Revision  int
		Revisions struct{ Count int }
	}
	mustUnmarshal(t, body, &call)
	if call.Call["talkremarks"] != "will pay Friday" || call.Revisions.Count != 2 || call.Revision != 1 {
		t.Errorf("the older event overwrote the later one: %s", body)
	}
	if s.count("events") != 2 {
		t.Errorf("%d events, want both kept", s.count("events"))
	}
}

// Bad input is refused per kind, and nothing is stored: a wrong or missing Sign where the kind is signed,
// a missing token, an unsigned kind on a source that has neither token nor allowlist, a kind the source
// does not take, and a body that is not the kind's envelope (naming what is wrong).
func TestWrongEnvelopeStoresNothing(t *testing.T) {
	t.Parallel()
	s := start(t, options{environ: append([]string{"RUDDERHOOK_SOURCE_OPEN_KEYS=airudder"}, eventsEnv...)})
	for _, k := range airudder.Kinds() {
		ex := k.Examples[0].Body
		if k.Signed {
			var env map[string]any
			mustUnmarshal(t, ex, &env)
			env["Sign"] = airudder.Sign(env["TaskID"].(string), "not-the-key")
			wrong, _ := json.Marshal(env)
			delete(env, "Sign")
			unsigned, _ := json.Marshal(env)
			if status, resp := s.postKind("airudder", "s3cret", k.Route, wrong); status != http.StatusUnauthorized || errorCode(t, resp) != "invalid_signature" {
				t.Errorf("%s, wrong Sign: %d %s", k.Route, status, resp)
			}
			if status, resp := s.postKind("airudder", "s3cret", k.Route, unsigned); status != http.StatusUnauthorized || errorCode(t, resp) != "missing_signature" {
				t.Errorf("%s, no Sign: %d %s", k.Route, status, resp)
			}
		} else if status, resp := s.postKind("open", "", k.Route, ex); status != http.StatusForbidden || errorCode(t, resp) != "unsigned_kind_not_allowed" {
			t.Errorf("%s on a source without token or allowlist: %d %s", k.Route, status, resp)
		}
		if status, resp := s.postKind("airudder", "", k.Route, ex); status != http.StatusUnauthorized || errorCode(t, resp) != "invalid_token" {
			t.Errorf("%s without the token: %d %s", k.Route, status, resp)
		}
	}
	for kind, body := range map[string]string{
		airudder.KindCallCompleted:      `{"TaskID":"t1","Sign":"` + airudder.Sign("t1", airudder.DefaultKey) + `","Details":[]}`,
		airudder.KindInfoCheckCompleted: `{"TaskID":"t1","Sign":"` + airudder.Sign("t1", airudder.DefaultKey) + `"}`,
		"waba-status":                   `["not", "an", "object"]`,
		airudder.KindListCompleted:      `{"workflow_name":"x"}`,
		airudder.KindStatusChanged:      `{"workflow_id":"w1"}`,
		airudder.KindPDS:                `{"type":"Nope","body":{}}`,
		airudder.KindQAResult:           `{"TaskID":"t1","Sign":"` + airudder.Sign("t1", airudder.DefaultKey) + `","QADetail":"x"}`,
	} {
		status, resp := s.postKind("airudder", "s3cret", kind, []byte(body))
		if status == http.StatusOK || status >= 500 || errorCode(t, resp) == "" {
			t.Errorf("%s: %d %s", kind, status, resp)
		} else if kind != "waba-status" && (status != http.StatusUnprocessableEntity || !bytes.Contains(resp, []byte(`"field"`))) {
			t.Errorf("%s: %d %s, want 422 naming the field", kind, status, resp)
		}
	}
	if status, resp := s.postKind("airudder", "", airudder.KindPDS, airudder.ExamplePDSTaskStatus); status != http.StatusUnauthorized {
		t.Errorf("no token: %d %s", status, resp)
	}
	if status, resp := s.postKind("airudder", "s3cret", "chatbot-end", []byte(`{}`)); status != http.StatusNotFound {
		t.Errorf("unlisted kind: %d %s", status, resp)
	}
	// Whatever is acknowledged is in the inbox before its answer, and nothing else starts a workflow.
	if n := s.acknowledged(); n != 0 {
		t.Errorf("%d callbacks acknowledged", n)
	}
	if s.count("events") != 0 || s.count("calls") != 0 {
		t.Errorf("stored %d events, %d calls", s.count("events"), s.count("calls"))
	}
}

// With Temporal down, an event that temporal mode cannot start waits in the inbox under its kind (200 {}
// all the same), and the relay hands it to its workflow when Temporal is back: the PDS agent's event and
// its call both run.
func TestTemporalDownEventWaitsInInboxThenRuns(t *testing.T) {
	t.Parallel()
	s := start(t, options{noRelay: true, environ: append(slices.Clone(eventsEnv), "RUDDERHOOK_ACK=temporal")})
	s.serve(&ingest.Service{Temporal: unreachableTemporal(t), Store: s.store, Sources: s.cfg.Sources,
		Log: testLogger(t), StartTimeout: 300 * time.Millisecond})
	for _, k := range []struct {
		route string
		body  []byte
	}{
		{airudder.KindPDS, airudder.ExamplePDSAgentStatus},
		{airudder.KindQAResult, airudder.ExampleQAResult},
		{"waba-status", []byte(`{"message":{"id":"wamid.1"}}`)},
	} {
		if status, body := s.postKind("airudder", "s3cret", k.route, k.body); status != http.StatusOK || string(body) != "{}" {
			t.Fatalf("%s with Temporal down: %d %s", k.route, status, body)
		}
	}
	var kinds []string
	if err := s.db.Select(&kinds, "SELECT kind FROM inbox ORDER BY id"); err != nil || strings.Join(kinds, ",") != "pds,qa-result,waba-status" {
		t.Fatalf("inbox kinds = %v (%v)", kinds, err)
	}
	if s.count("events") != 0 {
		t.Fatalf("%d events before the relay", s.count("events"))
	}
	res, err := s.ingest.Inbox().RelayOnce(context.Background())
	if err != nil || res.Done != 3 {
		t.Fatalf("relay = %+v, %v", res, err)
	}
	s.waitWorkflow(workflows.EventWorkflowIDOf(*s.eventOf("airudder", airudder.KindPDS, airudder.ExamplePDSAgentStatus)))
	s.waitWorkflow("call/airudder/pds/pds0c41fxxxxxxxx77e2")
	s.waitWorkflow("event/airudder/waba-status/wamid.1")
	s.waitWorkflow(workflows.EventWorkflowIDOf(*s.eventOf("airudder", airudder.KindQAResult, airudder.ExampleQAResult)))
	if s.count("inbox") != 0 || s.count("events") != 3 || s.count("calls") != 1 {
		t.Errorf("after the relay: inbox %d, events %d, calls %d", s.count("inbox"), s.count("events"), s.count("calls"))
	}
}

// eventRevisions are the revisions of events (for system.count).
const eventRevisions = "subject_revisions r JOIN events e ON e.subject_id = r.subject_id"

func jsonText(v any) string { b, _ := json.Marshal(v); return url.PathEscape(string(b)) }

// A rule on an event kind runs: a QA result with a Negative check point hit becomes a task in the CRM,
// once, however often the result is delivered.
func TestRuleOnAnEventKindRuns(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, func(int) int { return http.StatusOK })
	s := start(t, options{environ: append([]string{"RUDDERHOOK_TARGET_CRM_URL=" + crm.URL, "RUDDERHOOK_TARGET_CRM_SECRET=" + crmSecret}, eventsEnv...)})
	doc := `rules:
  - id: qa-negative-hit
    on: qa_result
    when: '"Negative" in event.hit'
    actions:
      - name: supervisor-task
        type: webhook
        target: crm
        body: '{"task": "qa_review", "task_id": {{ json .event.task_id }}, "negative": {{ json (index .event.hit "Negative") }}}'
`
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(doc)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	hit := bytes.Replace(airudder.ExampleQAResult, []byte(`"Name": "threatening_language",
              "Hit": false`), []byte(`"Name": "threatening_language",
              "Hit": true`), 1)
	for range 2 {
		if status, body := s.postKind("airudder", "s3cret", airudder.KindQAResult, hit); status != http.StatusOK {
			t.Fatalf("post: %d %s", status, body)
		}
	}
	id := workflows.EventWorkflowIDOf(*s.eventOf("airudder", airudder.KindQAResult, hit))
	s.waitWorkflow(id)
	got := crm.received()
	if len(got) != 1 {
		t.Fatalf("the CRM got %d requests, want 1", len(got))
	}
	var body map[string]any
	if err := json.Unmarshal(got[0].body, &body); err != nil || body["task"] != "qa_review" || body["task_id"] != "qa7f3c2d1exxxxxxxx55aa" {
		t.Errorf("body = %s (%v)", got[0].body, err)
	}
	var n int
	if err := s.db.Get(&n, "SELECT count(*) FROM follow_ups f JOIN subjects s ON s.id = f.subject_id WHERE f.status = 'succeeded' AND s.workflow_id = $1", id); err != nil || n != 1 {
		t.Errorf("%d follow-ups of the event succeeded (%v)", n, err)
	}
}

// A failed follow-up of an event is retried through the API as one of a call is: the retry reads the
// follow-up's subject, whatever its kind, and runs the follow-up's workflow again.
func TestRefusedFollowUpOfAnEventRetriesThroughTheAPI(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusBadRequest))
	s := start(t, options{environ: append([]string{"RUDDERHOOK_TARGET_CRM_URL=" + crm.URL, "RUDDERHOOK_TARGET_CRM_SECRET=" + crmSecret}, eventsEnv...)})
	doc := `rules:
  - id: qa-review
    on: qa_result
    when: 'true'
    actions:
      - {name: supervisor-task, type: webhook, target: crm, body: '{"task_id": {{ json .event.task_id }}}'}
`
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(doc)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	if status, body := s.postKind("airudder", "s3cret", airudder.KindQAResult, airudder.ExampleQAResult); status != http.StatusOK {
		t.Fatalf("post: %d %s", status, body)
	}
	ev := s.eventOf("airudder", airudder.KindQAResult, airudder.ExampleQAResult)
	s.waitWorkflow(workflows.EventWorkflowIDOf(*ev)) // the event's workflow completes; its follow-up failed
	fu := s.onlyFollowUp("failed")
	rec, err := s.store.GetEventByKey(context.Background(), "airudder", airudder.KindQAResult, ev.Key)
	if err != nil || fu.SubjectID != rec.SubjectID || fu.Kind != airudder.KindQAResult || fu.Attempts != 1 {
		t.Fatalf("failed follow-up = %+v, event %+v (%v)", fu, rec, err)
	}

	crm.setRespond(always(http.StatusOK))
	if status, body := s.admin(http.MethodPost, fmt.Sprintf("/v1/follow-ups/%d/retry", fu.ID), nil); status != http.StatusAccepted {
		t.Fatalf("retry = %d %s", status, body)
	}
	s.waitWorkflow(fu.WorkflowID)
	// The event lists its follow-up, now succeeded on the second attempt.
	status, body := s.get("/v1/events/" + jsonText(rec.ID))
	var got struct {
		FollowUps []followUpView `json:"follow_ups"`
	}
	mustUnmarshal(t, body, &got)
	if status != http.StatusOK || len(got.FollowUps) != 1 || got.FollowUps[0].ID != fu.ID || got.FollowUps[0].Status != "succeeded" ||
		got.FollowUps[0].Attempts != 2 {
		t.Errorf("GET event = %d %s", status, body)
	}
	if n := len(crm.received()); n != 2 {
		t.Errorf("the CRM got %d requests, want 2", n)
	}
}

// An event too large for a workflow's input is stored before its workflow starts, which gets a slim copy
// and reads the whole event back to plan; nothing of it is lost.
func TestLargeEventIsStoredAndFollowedUpWhole(t *testing.T) {
	t.Parallel()
	chat := newTarget(t, func(int) int { return http.StatusOK })
	s := start(t, options{environ: append([]string{"RUDDERHOOK_MAX_BODY_BYTES=1048576"}, eventsEnv...)})
	doc := `rules:
  - id: read
    on: waba_status
    when: 'event.raw.message.status == "read"'
    actions:
      - {type: notify, url: "` + chat.URL + `", text: "{{ .event.raw.message.id }} read"}
`
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(doc)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	big := `{"message":{"id":"wamid.big","status":"read"},"history":"` + strings.Repeat("x", 400_000) + `"}`
	if status, body := s.postKind("airudder", "s3cret", "waba-status", []byte(big)); status != http.StatusOK {
		t.Fatalf("post: %d %s", status, body)
	}
	s.waitWorkflow("event/airudder/waba-status/wamid.big")
	rec, err := s.store.GetEventByKey(context.Background(), "airudder", "waba-status", "wamid.big")
	if err != nil || len(rec.Raw) < 400_000 || rec.Revision != 1 {
		t.Fatalf("stored %d bytes, revision %d (%v)", len(rec.Raw), rec.Revision, err)
	}
	revs, err := s.store.Revisions(context.Background(), rec.SubjectID)
	if err != nil || len(revs) != 1 || revs[0].ProcessedAt == nil {
		t.Errorf("revisions = %+v (%v): want one, processed", revs, err)
	}
	var n int
	if err := s.db.Get(&n, "SELECT count(*) FROM follow_ups WHERE subject_id = $1 AND rule_id = 'read'", rec.SubjectID); err != nil || n != 1 {
		t.Errorf("%d follow-ups planned from the whole event (%v)", n, err)
	}
	if got := chat.received(); len(got) != 1 || !bytes.Contains(got[0].body, []byte("wamid.big read")) {
		t.Errorf("the chat got %d messages", len(got))
	}
}
