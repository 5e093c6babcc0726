package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

const seedCallID = "cad907xxxxxxxx35644a"

func TestSeedCallbackIsStoredFieldByField(t *testing.T) {
	t.Parallel()
	s := start(t, options{})

	status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json")
	if status != http.StatusOK || string(body) != "{}" {
		t.Fatalf("POST = %d %s, want 200 {}", status, body)
	}
	s.waitWorkflow("call/airudder/" + seedCallID)

	status, body = s.get(callPath(seedCallID))
	if status != http.StatusOK {
		t.Fatalf("GET call = %d %s", status, body)
	}
	var got struct {
		Source             string
		TemporalWorkflowID string `json:"temporal_workflow_id"`
		TemporalURL        string `json:"temporal_url"`
		Task               map[string]any
		Call               map[string]any
	}
	mustUnmarshal(t, body, &got)
	var fixture map[string]any
	mustUnmarshal(t, airudder.ExampleCallCompleted, &fixture)
	want := fixture["Details"].([]any)[0].(map[string]any)

	if got.TemporalWorkflowID != "call/airudder/"+seedCallID || got.Source != "airudder" ||
		got.TemporalURL != "http://ui.example/namespaces/default/workflows/call%2Fairudder%2F"+seedCallID {
		t.Errorf("record = %s / %s / %s", got.Source, got.TemporalWorkflowID, got.TemporalURL)
	}
	for _, k := range []string{"workflow_id", "workflow_name", "nodetask_id", "nodetask_name", "TaskID", "TaskName"} {
		if got.Task[k] != fixture[k] {
			t.Errorf("task.%s = %v, want %v", k, got.Task[k], fixture[k])
		}
	}
	for k, w := range want {
		g, ok := got.Call[k]
		if !ok {
			t.Errorf("call.%s missing", k)
			continue
		}
		if !sameValue(k, g, w) {
			t.Errorf("call.%s = %#v, want %#v", k, g, w)
		}
	}
	if len(got.Call) != 36 {
		t.Errorf("call has %d fields, want the spec's 36", len(got.Call))
	}

	// Operators find the execution by its search attributes, as the Temporal UI lists them.
	s.listed(`CaseID = "7777777.0" AND CallID = "`+seedCallID+`" AND CalleeNumber = "+86xxxxxxxx721" AND Intention = "E" AND TaskID = "490d5ec3c1xxxxxxxx2b759b5b" AND Source = "airudder" AND ExecutionStatus = "Completed"`, 1)
}

// sameValue compares a value from the API with the fixture's: times as instants (the zone-less redial
// time is UTC by default), everything else as JSON.
func sameValue(field string, got, want any) bool {
	if field == "CallStartTime" || field == "CallEndTime" {
		g, err1 := time.Parse(time.RFC3339, got.(string))
		w, err2 := airudder.ParseTime(want.(string), time.UTC)
		return err1 == nil && err2 == nil && g.Equal(w)
	}
	if field == "RedailCall" {
		g, w := got.([]any), want.([]any)
		if len(g) != len(w) {
			return false
		}
		for i := range w {
			gm, wm := g[i].(map[string]any), w[i].(map[string]any)
			for k := range wm {
				if !sameValue(k, gm[k], wm[k]) {
					return false
				}
			}
		}
		return true
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	return bytes.Equal(gb, wb)
}

// The same callback delivered again, once it was processed, is handed to no workflow: no new run, no
// signal to the run that stored it, no second row.
func TestDuplicateDeliveryStartsNothingNew(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	id := "call/airudder/" + seedCallID
	var first string
	for i := range 3 {
		if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK || string(body) != "{}" {
			t.Fatalf("delivery %d = %d %s", i+1, status, body)
		}
		s.waitWorkflow(id)
		if i == 0 {
			first = s.runID(id)
		}
	}
	if n := s.count("calls"); n != 1 {
		t.Errorf("calls rows = %d, want 1", n)
	}
	if run, signals := s.runID(id), s.signals(id); run != first || signals != 1 {
		t.Errorf("after 3 deliveries: run %s (first %s), %d revisions handed to it; want the first run, with the first only", run, first, signals)
	}
}

func TestSeveralDetailsBecomeSeveralCalls(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	body := signed(t, func(_ map[string]any, d []any) []any {
		second := detailCopy(d, "")
		second["id"] = json.Number("9007199254740993") // no CallID: keyed by TaskID/id
		second["Intention"] = "A"
		return append(d, second)
	})
	if status, b := s.post("airudder", body, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, b)
	}
	secondKey := "490d5ec3c1xxxxxxxx2b759b5b/9007199254740993"
	s.waitWorkflow("call/airudder/" + seedCallID)
	s.waitWorkflow("call/airudder/" + secondKey)
	if n := s.count("calls"); n != 2 {
		t.Errorf("calls = %d, want 2", n)
	}
	status, b := s.get(callPath(secondKey))
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d %s", secondKey, status, b)
	}
	var got struct{ Call map[string]any }
	mustUnmarshal(t, b, &got)
	if got.Call["id"] != json.Number("9007199254740993") || got.Call["Intention"] != "A" {
		t.Errorf("second call id, intention = %v, %v", got.Call["id"], got.Call["Intention"])
	}
}

func TestBadInputIsRefusedAndNothingIsStored(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	huge := signed(t, func(_ map[string]any, d []any) []any {
		d[0].(map[string]any)["Comments"] = strings.Repeat("x", 70_000) // over the 64 KiB test limit
		return d
	})
	cases := []struct {
		name        string
		source      string
		body        []byte
		contentType string
		status      int
		code        string
	}{
		{"malformed JSON", "airudder", []byte(`{"TaskID": "x", `), "application/json", 400, "malformed_json"},
		{"not UTF-8", "airudder", []byte("{\"TaskID\": \"\xff\"}"), "application/json", 400, "malformed_json"},
		{"missing Sign", "airudder", bytes.Replace(airudder.ExampleCallCompleted, []byte(`"Sign"`), []byte(`"NoSign"`), 1), "application/json", 401, "missing_signature"},
		{"wrong Sign", "airudder", bytes.Replace(airudder.ExampleCallCompleted, []byte("21816736b9b6"), []byte("00000000b9b6"), 1), "application/json", 401, "invalid_signature"},
		{"unknown source", "nobody", airudder.ExampleCallCompleted, "application/json", 404, "unknown_source"},
		{"too large", "airudder", huge, "application/json", 413, "body_too_large"},
		{"not JSON", "airudder", airudder.ExampleCallCompleted, "text/plain", 415, "unsupported_media_type"},
		{"no content type", "airudder", airudder.ExampleCallCompleted, "", 415, "unsupported_media_type"},
		{"empty Details", "airudder", signed(t, func(_ map[string]any, _ []any) []any { return []any{} }), "application/json", 422, "invalid_payload"},
		{"a CallID longer than a key", "airudder", signed(t, func(_ map[string]any, d []any) []any {
			d[0].(map[string]any)["CallID"] = strings.Repeat("c", 600)
			return d
		}), "application/json", 422, "invalid_payload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := s.post(tc.source, tc.body, tc.contentType)
			if status != tc.status {
				t.Errorf("status = %d %s, want %d", status, body, tc.status)
			}
			if code := errorCode(t, body); code != tc.code {
				t.Errorf("code = %q, want %q", code, tc.code)
			}
		})
	}
	// The refusal names the field.
	_, body := s.post("airudder", cases[len(cases)-1].body, "application/json")
	if !strings.Contains(string(body), "Details[0].CallID") {
		t.Errorf("422 body does not name the field: %s", body)
	}
	// Whatever is acknowledged is in the inbox before its answer (inbox mode), and nothing else starts a
	// workflow: none was.
	if n := s.acknowledged(); n != 0 {
		t.Errorf("%d callbacks acknowledged after bad input, want none", n)
	}
	if n := s.count("calls"); n != 0 {
		t.Errorf("calls stored after bad input = %d, want 0", n)
	}
}

func TestAdminAPIListsPagesAndGuards(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	body := signed(t, func(_ map[string]any, d []any) []any {
		out := []any{}
		for i, intention := range []string{"PTP", "WN", "PTP"} {
			c := detailCopy(d, "list-"+string(rune('a'+i)))
			c["Intention"] = intention
			out = append(out, c)
		}
		return out
	})
	if status, b := s.post("airudder", body, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, b)
	}
	for _, id := range []string{"list-a", "list-b", "list-c"} {
		s.waitWorkflow("call/airudder/" + id)
	}

	var page struct {
		Calls []struct {
			Key  string
			Call struct{ Intention string }
		}
		NextCursor string `json:"next_cursor"`
	}
	status, b := s.get("/v1/calls?case_id=7777777.0&intention=PTP&limit=1")
	mustUnmarshal(t, b, &page)
	if status != 200 || len(page.Calls) != 1 || page.Calls[0].Call.Intention != "PTP" || page.NextCursor == "" {
		t.Fatalf("page 1 = %d %s", status, b)
	}
	first := page.Calls[0].Key
	status, b = s.get("/v1/calls?case_id=7777777.0&intention=PTP&limit=1&cursor=" + page.NextCursor)
	page.NextCursor = ""
	mustUnmarshal(t, b, &page)
	if status != 200 || len(page.Calls) != 1 || page.Calls[0].Key == first || page.NextCursor != "" {
		t.Errorf("page 2 = %d %s", status, b)
	}
	// A "+" that the client did not escape still finds the number.
	for _, q := range []string{"callee_number=%2B86xxxxxxxx721", "callee_number=+86xxxxxxxx721"} {
		page.Calls = nil
		status, b = s.get("/v1/calls?" + q)
		mustUnmarshal(t, b, &page)
		if status != 200 || len(page.Calls) != 3 {
			t.Errorf("%s = %d, %d calls", q, status, len(page.Calls))
		}
	}
	if status, b := s.get("/v1/calls?limit=0"); status != 400 || errorCode(t, b) != "invalid_parameter" {
		t.Errorf("limit=0 = %d %s", status, b)
	}
	if status, b := s.get("/v1/calls?cursor=not-a-cursor!"); status != 400 {
		t.Errorf("bad cursor = %d %s", status, b)
	}
	if status, b := s.get(callPath("no-such-call")); status != 404 || errorCode(t, b) != "not_found" {
		t.Errorf("unknown call = %d %s", status, b)
	}

	req, _ := http.NewRequest(http.MethodGet, s.http.URL+"/v1/calls", nil)
	req.Header.Set("Authorization", "bearer "+adminToken) // the scheme is case-insensitive
	if status, b := s.do(req); status != 200 {
		t.Errorf("lower-case bearer = %d %s", status, b)
	}
	for _, auth := range []string{"", "Bearer wrong", "Basic " + adminToken, adminToken, "Bearer"} {
		req, _ := http.NewRequest(http.MethodGet, s.http.URL+"/v1/calls", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if status, b := s.do(req); status != 401 || errorCode(t, b) != "unauthorized" {
			t.Errorf("Authorization %q = %d %s, want 401", auth, status, b)
		}
	}
}

func TestCallKeyWithSlashIsAddressable(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	body := signed(t, func(_ map[string]any, d []any) []any {
		c := detailCopy(d, "")
		return []any{c}
	})
	if status, b := s.post("airudder", body, "application/json"); status != 200 {
		t.Fatalf("POST = %d %s", status, b)
	}
	key := "490d5ec3c1xxxxxxxx2b759b5b/2123875204"
	s.waitWorkflow("call/airudder/" + key)
	status, b := s.get(callPath(key) + "?source=airudder")
	var got struct{ Key string }
	mustUnmarshal(t, b, &got)
	if status != 200 || got.Key != key {
		t.Errorf("GET %s = %d %s", key, status, b)
	}
	// Sent without escaping the slash, it is found too.
	status, b = s.get("/v1/calls/" + key)
	got.Key = ""
	mustUnmarshal(t, b, &got)
	if status != 200 || got.Key != key {
		t.Errorf("GET unescaped %s = %d %s", key, status, b)
	}
}
