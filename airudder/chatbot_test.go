package airudder_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
)

// A chatbot session end is a typed kind: the vendor page's fields are read, it is keyed by its
// wfdetail_uuid (else its call_id), and it is unsigned until X-AIRudder-Sign's scheme is known.
func TestChatbotSessionEndIsATypedKind(t *testing.T) {
	k := kind(t, airudder.KindChatbotSessionEnded)
	if k.Signed || k.SignHeader != "X-AIRudder-Sign" || k.On[0] != "chatbot_session_ended" {
		t.Errorf("kind %+v", k)
	}
	ev := readEvent(t, k, airudder.ExampleChatbotSessionEnded, airudder.ParseOptions{})
	c := ev.ChatbotSessionEnded
	if c == nil || c.WorkflowID != "16e0660e6cxxxxxxxxxxxxxxxx0abfe0e191" || c.NodeTaskName != "Chatbot_1" || c.WabaTaskID != "waba5e1fxxxxxxxx09c2" ||
		c.Timestamp == nil || *c.Timestamp != 1710127350 || c.Channel != "whatsapp" || c.Callee != "+6281xxxxxxx123" || c.Sign != "" {
		t.Fatalf("typed %+v", c)
	}
	if ev.Key != "wfdetail/3f6c2b1a-xxxx-xxxx-xxxx-8e9d0c1b2a3f" || ev.CallID != "cad907xxxxxxxx35644a" || ev.CalleeNumber != "+6281xxxxxxx123" ||
		strings.Contains(ev.Summary, "+6281xxxxxxx123") || len(ev.Notes) != 0 {
		t.Errorf("key %q, call %q, summary %q, notes %+v", ev.Key, ev.CallID, ev.Summary, ev.Notes)
	}
	withoutUUID := strings.Replace(string(airudder.ExampleChatbotSessionEnded), `"wfdetail_uuid"`, `"wfdetail"`, 1)
	if ev := readEvent(t, k, []byte(withoutUUID), airudder.ParseOptions{}); ev.Key != "call/cad907xxxxxxxx35644a" {
		t.Errorf("key without wfdetail_uuid = %q, want the call's", ev.Key)
	}
	for body, field := range map[string]string{
		`{"call_id":"c"}`:                  "workflow_id",
		`{"workflow_id":"w"}`:              "wfdetail_uuid",
		`{"workflow_id":"w","Details":[]}`: "Details",
	} {
		if ve := refused(t, k, []byte(body)); ve.Fields[0].Field != field {
			t.Errorf("%s: refused for %v, want %s", body, ve, field)
		}
	}
}

// The X-AIRudder-Sign header is kept with the event, as it came: the receiver hands it to the parser
// inside the body (WithHeaders), the event's raw body does not show it, and the body the inbox keeps
// (Event.Unsigned) reads back to the same event, header included. A body cannot forge it: the member
// that carries it is set from the request's header, or removed.
func TestChatbotSignHeaderIsKeptNotVerified(t *testing.T) {
	k := kind(t, airudder.KindChatbotSessionEnded)
	h := http.Header{}
	h.Set("X-Airudder-Sign", "3a7bd3e2360a3d29eea436fcfb7e44c735d117c4") // any scheme, any case of the name
	ev := readEvent(t, k, k.WithHeaders(airudder.ExampleChatbotSessionEnded, h), airudder.ParseOptions{})
	plain := readEvent(t, k, airudder.ExampleChatbotSessionEnded, airudder.ParseOptions{})
	if ev.ChatbotSessionEnded.Sign != "3a7bd3e2360a3d29eea436fcfb7e44c735d117c4" || strings.Contains(string(ev.Raw), "rudderhook") ||
		ev.Digest != plain.Digest || ev.Key != plain.Key || len(ev.Notes) != 0 {
		t.Errorf("sign %q, raw %s, digest %.12s (without the header %.12s), notes %+v", ev.ChatbotSessionEnded.Sign, ev.Raw, ev.Digest, plain.Digest, ev.Notes)
	}
	kept, err := ev.Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	again := readEvent(t, k, kept, airudder.ParseOptions{})
	if again.ChatbotSessionEnded.Sign != ev.ChatbotSessionEnded.Sign || again.Digest != ev.Digest || again.Key != ev.Key {
		t.Errorf("from the inbox: sign %q, digest %.12s, key %q", again.ChatbotSessionEnded.Sign, again.Digest, again.Key)
	}
	forged := k.WithHeaders(kept, http.Header{}) // the same body, posted without the header
	if ev := readEvent(t, k, forged, airudder.ParseOptions{}); ev.ChatbotSessionEnded.Sign != "" {
		t.Errorf("a body's own member became the header: %q", ev.ChatbotSessionEnded.Sign)
	}
	// Other kinds' bodies are left as they are.
	if got := kind(t, airudder.KindPDS).WithHeaders(airudder.ExamplePDSAgentStatus, h); string(got) != string(airudder.ExamplePDSAgentStatus) {
		t.Errorf("a PDS body was changed: %s", got)
	}
}
