package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/inbox"
	"github.com/rudderhook/rudderhook/workflows"
)

// A PDS call whose agent reports two states (HANGUP, then TALKRESULT, or the two the other way round),
// both matched by a rule that re-calls, reaches its person once: through the receiver, the workflows
// and the fake Airudder, one uploaddetails per call.
func TestAPDSCallWithTwoAgentStatesReachesItsPersonOnce(t *testing.T) {
	t.Parallel()
	fa := airuddertest.New(t)
	s := start(t, options{environ: append([]string{
		"AIRUDDER_BASE_URL=" + fa.URL, "AIRUDDER_APP_KEY=" + airuddertest.AppKey, "AIRUDDER_APP_SECRET=" + airuddertest.AppSecret,
	}, eventsEnv...)})
	const doc = `rules:
  - id: ptp
    on: pds.agent_status
    when: event.state in ["HANGUP", "TALKRESULT"]
    actions: [{name: remind, type: airudder_recall, workflow_id: wf-ptp, callee: "{{ .event.callee_number }}"}]
`
	if status, body := s.admin(http.MethodPut, "/v1/rules", []byte(doc)); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}
	state := func(callID, number, state string, ms int64) []byte {
		var env map[string]any
		mustUnmarshal(t, airudder.ExamplePDSAgentStatus, &env)
		b := env["body"].(map[string]any)
		b["callid"], b["phoneNumber"], b["State"], b["timestamp"] = callID, number, state, fmt.Sprint(ms)
		out, _ := json.Marshal(env)
		return out
	}
	for _, c := range []struct {
		callID, number string
		order          []string
	}{
		{"c-in-order", "+6281100000001", []string{"HANGUP", "TALKRESULT"}},
		{"c-out-of-order", "+6281100000002", []string{"TALKRESULT", "HANGUP"}},
	} {
		for _, st := range c.order {
			body := state(c.callID, c.number, st, map[string]int64{"HANGUP": 1710127230000, "TALKRESULT": 1710127290000}[st])
			if status, resp := s.postKind("airudder", "s3cret", airudder.KindPDS, body); status != http.StatusOK {
				t.Fatalf("%s %s: %d %s", c.callID, st, status, resp)
			}
			s.waitWorkflow(workflows.EventWorkflowIDOf(*s.eventOf("airudder", airudder.KindPDS, body)))
		}
	}
	var callees []string
	for _, u := range fa.Uploads() {
		callees = append(callees, u.Callees...)
	}
	slices.Sort(callees)
	if !slices.Equal(callees, []string{"+6281100000001", "+6281100000002"}) {
		t.Errorf("re-called %v, want each call's person once", callees)
	}
	if n := s.count("follow_ups"); n != 2 {
		t.Errorf("%d follow-ups, want one per call", n)
	}
}

// A chatbot session end is received as a typed kind, through the inbox and its relay, with its
// X-AIRudder-Sign header kept and shown (not verified: its scheme is not documented).
func TestChatbotSessionEndKeepsItsSignHeader(t *testing.T) {
	t.Parallel()
	s := start(t, options{environ: append(slices.Clone(eventsEnv), "RUDDERHOOK_ACK=inbox")})
	svc := s.inboxService(s.client, inbox.Options{})
	s.serve(svc)
	s.runRelay(svc, 50*time.Millisecond, nil)
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/airudder/s3cret/"+airudder.KindChatbotSessionEnded,
		bytes.NewReader(airudder.ExampleChatbotSessionEnded))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-AIRudder-Sign", "9b74c9897bac770ffc029102a200c5de")
	if status, body := s.do(req); status != http.StatusOK || string(body) != "{}" {
		t.Fatalf("POST = %d %s", status, body)
	}
	id := workflows.EventWorkflowIDOf(*s.eventOf("airudder", airudder.KindChatbotSessionEnded, airudder.ExampleChatbotSessionEnded))
	s.waitWorkflow(id)
	s.waitWorkflow(id)
	var page eventsPage
	_, body := s.get("/v1/events?kind=" + airudder.KindChatbotSessionEnded)
	mustUnmarshal(t, body, &page)
	if len(page.Events) != 1 || page.Events[0].On != "chatbot_session_ended" {
		t.Fatalf("events %s", body)
	}
	status, body := s.get(fmt.Sprintf("/v1/events/%d", page.Events[0].ID))
	var ev struct {
		Key     string
		Chatbot struct {
			Channel string
			Sign    string `json:"x_airudder_sign"`
		} `json:"chatbot_session_ended"`
		Raw map[string]any
	}
	mustUnmarshal(t, body, &ev)
	if status != http.StatusOK || ev.Chatbot.Sign != "9b74c9897bac770ffc029102a200c5de" || ev.Chatbot.Channel != "whatsapp" ||
		ev.Key != "wfdetail/3f6c2b1a-xxxx-xxxx-xxxx-8e9d0c1b2a3f" || len(ev.Raw) != 11 {
		t.Errorf("GET /v1/events/{id} = %d %s", status, body)
	}
}
