package airudder_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

// pdsBody edits the body of a PDS example.
func pdsBody(t *testing.T, example []byte, fn func(env, body map[string]any)) []byte {
	t.Helper()
	return edit(t, example, func(m map[string]any) { fn(m, m["body"].(map[string]any)) })
}

func TestPDSExamples(t *testing.T) {
	k := kind(t, "pds")
	ts := time.Date(2024, 3, 11, 3, 20, 30, 0, time.UTC)

	task := readEvent(t, k, airudder.ExamplePDSTaskStatus, airudder.ParseOptions{})
	if task.On != "pds.task_status" || task.PDS.State != "Finished" || task.Subject != "task/b7c1e2d3xxxxxxxx9f00" ||
		task.Key != "TaskStatus/b7c1e2d3xxxxxxxx9f00/Finished/1710140400000" || task.Call != nil ||
		!task.Time.Equal(time.Date(2024, 3, 11, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("task status: %+v", task)
	}

	contact := readEvent(t, k, airudder.ExamplePDSContactStatus, airudder.ParseOptions{})
	if contact.On != "pds.contact_status" || contact.PDS.State != "Answered" || contact.Subject != "call/cad907xxxxxxxx35644a" ||
		contact.CallID != "cad907xxxxxxxx35644a" || contact.CalleeNumber != "+86xxxxxxxx721" || !contact.Time.Equal(ts) || contact.Call != nil {
		t.Errorf("contact status: %+v", contact)
	}

	agent := readEvent(t, k, airudder.ExamplePDSAgentStatus, airudder.ParseOptions{})
	p := agent.PDS
	if agent.On != "pds.agent_status" || p.State != "HANGUP" || !p.Timestamp.Equal(ts) || *p.HangupReason != 12 || *p.NthCall != 1 ||
		p.AgentName != "agent_017" || p.RecLink == "" || p.CustomizeResults["PTP Date"] != "2024-03-15" || p.CustomizeResults["PTP Amount"] != "1500000" {
		t.Errorf("agent status: %+v", p)
	}
	if agent.Key != "AgentStatus/pds0c41fxxxxxxxx77e2/HANGUP/1710127230000" || agent.Subject != "call/pds0c41fxxxxxxxx77e2" {
		t.Errorf("key %q, subject %q", agent.Key, agent.Subject)
	}
	if strings.Contains(agent.Summary, "+6281xxxxxxx123") || !strings.Contains(agent.Summary, "Contacted / PTP") {
		t.Errorf("summary = %q", agent.Summary)
	}
}

// An agent's HANGUP or TALKRESULT is also a call of the PDS family, keyed apart from workflow calls.
func TestPDSAgentResultIsACall(t *testing.T) {
	k := kind(t, "pds")
	ev := readEvent(t, k, airudder.ExamplePDSAgentStatus, airudder.ParseOptions{})
	rc := ev.Call
	if rc == nil {
		t.Fatal("no call")
	}
	c := rc.Call
	if rc.Kind != "pds" || rc.Family() != airudder.FamilyPDS || rc.Key != "pds/pds0c41fxxxxxxxx77e2" || rc.Task.TaskID != "b7c1e2d3xxxxxxxx9f00" ||
		rc.Digest == "" || !rc.EventTime.Equal(*ev.Time) || string(rc.RawTask) != `{"type":"AgentStatus"}` {
		t.Errorf("received call: %+v", rc)
	}
	if c.CallID != "pds0c41fxxxxxxxx77e2" || c.CalleeNumber != "+6281xxxxxxx123" || c.Status != "finished" || c.Intention != "PTP" ||
		c.IntentionDescription != "Contacted / PTP" || *c.CallTimes != 1 || !c.CallEndTime.Equal(*ev.Time) || c.Agent != "agent_017" ||
		c.Remarks != "promised to pay on Friday" || !strings.HasSuffix(c.RecordingURL, "cd34.wav") {
		t.Errorf("call: %+v", c)
	}
	var results, vars map[string]string
	if json.Unmarshal(c.Results, &results) != nil || results["PTP Date"] != "2024-03-15" || json.Unmarshal(c.Variables, &vars) != nil || vars["account_id"] != "88231" {
		t.Errorf("results %s, variables %s", c.Results, c.Variables)
	}
	// The example contact and the example call completion share a callid: the keys of the two families
	// must not meet.
	if wf := airudder.ExampleCalls("s", time.Time{})[0]; "pds/"+wf.Key == rc.Key || wf.Key == rc.Key {
		t.Errorf("workflow key %q, pds key %q", wf.Key, rc.Key)
	}

	// The tenant's own keys for the intention, most specific first.
	own := readEvent(t, k, airudder.ExamplePDSAgentStatus, airudder.ParseOptions{PDSIntentionKeys: []string{"Missing", "Spokewith", "Level1"}})
	if own.Call.Call.Intention != "Customer" || own.Call.Call.IntentionDescription != "Contacted / Customer" {
		t.Errorf("intention %q (%q)", own.Call.Call.Intention, own.Call.Call.IntentionDescription)
	}

	for state, isCall := range map[string]bool{"TALKRESULT": true, "talkresult": true, "CALLING": false, "RINGING": false, "ANSWERED": false} {
		ev := readEvent(t, k, pdsBody(t, airudder.ExamplePDSAgentStatus, func(_, b map[string]any) { b["State"] = state }), airudder.ParseOptions{})
		if (ev.Call != nil) != isCall {
			t.Errorf("%s: call = %v", state, ev.Call != nil)
		}
	}
	// The states of one call are events of one subject, each with its own key; a later timestamp wins,
	// which the store decides from Time.
	later := readEvent(t, k, pdsBody(t, airudder.ExamplePDSAgentStatus, func(_, b map[string]any) {
		b["State"], b["timestamp"] = "TALKRESULT", json.Number("1710127290000")
	}), airudder.ParseOptions{})
	if later.Subject != ev.Subject || later.Key == ev.Key || !later.Time.After(*ev.Time) || later.Call.Key != ev.Call.Key || later.Call.Digest == ev.Call.Digest {
		t.Errorf("later: subject %q, key %q, time %v; call %q digest %q", later.Subject, later.Key, later.Time, later.Call.Key, later.Call.Digest)
	}
}

func TestPDSQuirks(t *testing.T) {
	k := kind(t, "pds")
	agent, contact := airudder.ExamplePDSAgentStatus, airudder.ExamplePDSContactStatus
	base := readEvent(t, k, agent, airudder.ParseOptions{})
	cases := []struct {
		name  string
		body  []byte
		check func(t *testing.T, ev *airudder.Event)
	}{
		{"AgentStatus spelling state", pdsBody(t, agent, func(_, b map[string]any) { b["state"] = b["State"]; delete(b, "State") }),
			func(t *testing.T, ev *airudder.Event) {
				if ev.PDS.State != "HANGUP" || ev.Key != base.Key || len(ev.Notes) != 0 {
					t.Errorf("state %q, key %q, notes %+v", ev.PDS.State, ev.Key, ev.Notes)
				}
			}},
		{"ContactStatus spelling State", pdsBody(t, contact, func(_, b map[string]any) { b["State"] = b["state"]; delete(b, "state") }),
			func(t *testing.T, ev *airudder.Event) {
				if ev.PDS.State != "Answered" || len(ev.Notes) != 0 {
					t.Errorf("state %q, notes %+v", ev.PDS.State, ev.Notes)
				}
			}},
		{"both spellings, different", pdsBody(t, agent, func(_, b map[string]any) { b["state"] = "CALLING" }),
			func(t *testing.T, ev *airudder.Event) {
				if n, ok := noteOn(ev.Notes, "body.state"); ev.PDS.State != "HANGUP" || !ok || n.Text != "CALLING" {
					t.Errorf("state %q, notes %+v", ev.PDS.State, ev.Notes)
				}
			}},
		{"timestamp as a number", pdsBody(t, agent, func(_, b map[string]any) { b["timestamp"] = json.Number("1710127230000") }),
			func(t *testing.T, ev *airudder.Event) {
				if !ev.Time.Equal(*base.Time) || ev.Key != base.Key || len(ev.Notes) != 0 {
					t.Errorf("time %v, key %q, notes %+v", ev.Time, ev.Key, ev.Notes)
				}
			}},
		{"timestamp not milliseconds", pdsBody(t, agent, func(_, b map[string]any) { b["timestamp"] = "2024-03-11 10:20:30" }),
			func(t *testing.T, ev *airudder.Event) {
				if _, ok := noteOn(ev.Notes, "body.timestamp"); ev.Time != nil || !ok || !strings.HasSuffix(ev.Key, "/2024-03-11 10:20:30") {
					t.Errorf("time %v, key %q, notes %+v", ev.Time, ev.Key, ev.Notes)
				}
				if ev.Call.Call.CallEndTime != nil {
					t.Errorf("end %v", ev.Call.Call.CallEndTime)
				}
			}},
		{"timestamp beyond year 9999", pdsBody(t, agent, func(_, b map[string]any) { b["timestamp"] = json.Number("999999999999999") }),
			func(t *testing.T, ev *airudder.Event) {
				if _, ok := noteOn(ev.Notes, "body.timestamp"); ev.Time != nil || !ok {
					t.Errorf("time %v, notes %+v", ev.Time, ev.Notes)
				}
			}},
		{"no timestamp", pdsBody(t, agent, func(_, b map[string]any) { delete(b, "timestamp") }),
			func(t *testing.T, ev *airudder.Event) {
				if n, ok := noteOn(ev.Notes, "body.timestamp"); ev.Time != nil || !ok || !strings.Contains(n.Why, "ordered") {
					t.Errorf("time %v, notes %+v", ev.Time, ev.Notes)
				}
			}},
		{"type in another case", pdsBody(t, agent, func(env, _ map[string]any) { env["type"] = "agentstatus" }),
			func(t *testing.T, ev *airudder.Event) {
				if _, ok := noteOn(ev.Notes, "type"); ev.PDS.Type != "AgentStatus" || ev.Key != base.Key || !ok {
					t.Errorf("type %q, key %q, notes %+v", ev.PDS.Type, ev.Key, ev.Notes)
				}
			}},
		{"customizeResults as the query API's list", pdsBody(t, agent, func(_, b map[string]any) {
			b["customizeResults"] = []any{
				map[string]any{"title": "Level1", "groupName": "g", "value": "Contacted"},
				map[string]any{"title": "PTP Date", "value": "2024-03-15"},
				map[string]any{"value": "untitled"},
			}
		}), func(t *testing.T, ev *airudder.Event) {
			r := ev.PDS.CustomizeResults
			if r["Level1"] != "Contacted" || r["PTP Date"] != "2024-03-15" || len(r) != 2 || ev.Call.Call.Intention != "Contacted" {
				t.Errorf("results %v", r)
			}
			for _, f := range []string{"body.customizeResults", "body.customizeResults[2].title"} {
				if _, ok := noteOn(ev.Notes, f); !ok {
					t.Errorf("no note on %s: %+v", f, ev.Notes)
				}
			}
		}},
		{"customizeResults value not a string", pdsBody(t, agent, func(_, b map[string]any) {
			b["customizeResults"].(map[string]any)["PTP Amount"] = json.Number("1500000")
		}), func(t *testing.T, ev *airudder.Event) {
			if _, ok := noteOn(ev.Notes, "body.customizeResults.PTP Amount"); ev.PDS.CustomizeResults["PTP Amount"] != "1500000" || !ok {
				t.Errorf("results %v, notes %+v", ev.PDS.CustomizeResults, ev.Notes)
			}
			// The call's notes are about the call's own JSON: no "body." prefix.
			if _, ok := noteOn(ev.Call.ParseNotes, "customizeResults.PTP Amount"); !ok {
				t.Errorf("call notes %+v", ev.Call.ParseNotes)
			}
		}},
		{"reclink spelled as the query API does", pdsBody(t, agent, func(_, b map[string]any) { b["reclink"] = b["recLink"]; delete(b, "recLink") }),
			func(t *testing.T, ev *airudder.Event) {
				if ev.PDS.RecLink != base.PDS.RecLink || ev.Call.Call.RecordingURL != base.PDS.RecLink {
					t.Errorf("rec link %q", ev.PDS.RecLink)
				}
			}},
		{"HANGUP without callid", pdsBody(t, agent, func(_, b map[string]any) { delete(b, "callid") }),
			func(t *testing.T, ev *airudder.Event) {
				if ev.Call != nil || ev.Subject != "" || !strings.HasPrefix(ev.Key, "sha256:") {
					t.Errorf("call %v, subject %q, key %q", ev.Call != nil, ev.Subject, ev.Key)
				}
				if n, ok := noteOn(ev.Notes, "body.callid"); !ok || !strings.Contains(n.Why, "hash") {
					t.Errorf("notes %+v", ev.Notes)
				}
			}},
		{"odd values in the body", pdsBody(t, agent, func(_, b map[string]any) {
			b["nthCall"], b["hangupReason"], b["customerInfo"], b["agentName"] = "2", true, "none", json.Number("17")
		}), func(t *testing.T, ev *airudder.Event) {
			p := ev.PDS
			if *p.NthCall != 2 || p.HangupReason != nil || p.CustomerInfo != nil || p.AgentName != "17" {
				t.Errorf("pds %+v", p)
			}
			for _, f := range []string{"body.nthCall", "body.hangupReason", "body.customerInfo", "body.agentName"} {
				if _, ok := noteOn(ev.Notes, f); !ok {
					t.Errorf("no note on %s: %+v", f, ev.Notes)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, readEvent(t, k, tc.body, airudder.ParseOptions{})) })
	}
}

// Only what makes a body no PDS webhook at all is refused, naming the field.
func TestPDSRefusesWhatIsNoPDSWebhook(t *testing.T) {
	k := kind(t, "pds")
	cases := []struct {
		name, body, field, message string
	}{
		{"wrong type", `{"type":"CallStatus","body":{}}`, "type", `must be one of TaskStatus, ContactStatus, AgentStatus, got "CallStatus"`},
		{"no type", `{"body":{}}`, "type", "is required: one of TaskStatus, ContactStatus, AgentStatus"},
		{"type not a string", `{"type":3,"body":{}}`, "type", "must be a string, one of TaskStatus, ContactStatus, AgentStatus, got number"},
		{"no body", `{"type":"TaskStatus"}`, "body", "is required: the event's fields"},
		{"body not an object", `{"type":"TaskStatus","body":[{}]}`, "body", "must be an object, got array"},
		{"a call completion", string(airudder.ExampleCallCompleted), "type", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ve := refused(t, k, []byte(tc.body))
			if ve.Fields[0].Field != tc.field || (tc.message != "" && ve.Fields[0].Message != tc.message) {
				t.Errorf("refused with %v, want %s: %s", ve, tc.field, tc.message)
			}
		})
	}
}
