package airudder_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

// kind finds a built-in kind or fails the test.
func kind(t testing.TB, route string) airudder.Kind {
	t.Helper()
	k, ok := airudder.KindByRoute(route)
	if !ok {
		t.Fatalf("no kind %q", route)
	}
	return k
}

// readEvent decodes body and reads it as an event of kind k, failing the test on any error.
func readEvent(t testing.TB, k airudder.Kind, body []byte, opts airudder.ParseOptions) *airudder.Event {
	t.Helper()
	doc, err := airudder.Decode(body)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	ev, err := k.ReadEvent(doc, opts)
	if err != nil {
		t.Fatalf("%s: ReadEvent: %v", k.Route, err)
	}
	return ev
}

// refused decodes body, reads it as kind k and returns the ValidationError it must be.
func refused(t testing.TB, k airudder.Kind, body []byte) *airudder.ValidationError {
	t.Helper()
	doc, err := airudder.Decode(body)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if k.Calls {
		_, err = k.ReadCalls(doc, airudder.ParseOptions{})
	} else {
		_, err = k.ReadEvent(doc, airudder.ParseOptions{})
	}
	var ve *airudder.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 {
		t.Fatalf("%s: err = %v, want a ValidationError naming a field", k.Route, err)
	}
	return ve
}

// edit decodes a JSON object (numbers kept exact), lets fn change it, and encodes it again.
func edit(t testing.TB, body []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noteOn returns the note on field, if any.
func noteOn(notes []airudder.ParseNote, field string) (airudder.ParseNote, bool) {
	i := slices.IndexFunc(notes, func(n airudder.ParseNote) bool { return n.Field == field })
	if i < 0 {
		return airudder.ParseNote{}, false
	}
	return notes[i], true
}

func TestKindRegistry(t *testing.T) {
	want := []string{"call-completed", "info-check-completed", "list-completed", "status-changed", "qa-result", "pds", "chatbot-session-ended"}
	if got := airudder.KindRoutes(); !slices.Equal(got, want) {
		t.Fatalf("routes = %v, want %v", got, want)
	}
	seen := map[string]string{}
	for _, k := range airudder.Kinds() {
		if len(k.On) == 0 || len(k.Examples) == 0 || k.Title == "" || !k.Typed {
			t.Errorf("%s: incomplete: %+v", k.Route, k)
		}
		for _, on := range k.On {
			if other, dup := seen[on]; dup {
				t.Errorf("rules' name %s is both %s's and %s's", on, other, k.Route)
			}
			seen[on] = k.Route
			if got, ok := airudder.KindByOn(on); !ok || got.Route != k.Route {
				t.Errorf("KindByOn(%s) = %s, %v", on, got.Route, ok)
			}
		}
		// Every example reads as its kind; a signed one carries a Sign for the default key, an unsigned
		// one none.
		for _, ex := range k.Examples {
			doc, err := airudder.Decode(ex.Body)
			if err != nil {
				t.Fatalf("%s: %v", ex.Name, err)
			}
			taskID, sign := doc.Signed()
			if err := airudder.VerifySign(taskID, sign, []string{airudder.DefaultKey}); (err == nil) != k.Signed {
				t.Errorf("%s: signed = %v, VerifySign: %v", ex.Name, k.Signed, err)
			}
			if k.Calls {
				if _, err := k.ReadCalls(doc, airudder.ParseOptions{}); err != nil {
					t.Errorf("%s: %v", ex.Name, err)
				}
				continue
			}
			ev := readEvent(t, k, ex.Body, airudder.ParseOptions{})
			if ev.Kind != k.Route || ev.On != ex.Name || ev.Key == "" || ev.Summary == "" || len(ev.Notes) != 0 {
				t.Errorf("%s: kind %q, on %q, key %q, summary %q, notes %+v", ex.Name, ev.Kind, ev.On, ev.Key, ev.Summary, ev.Notes)
			}
		}
	}
	for _, name := range []string{"", "call_completed", "Call-Completed", "waba-message-status"} {
		if _, ok := airudder.KindByRoute(name); ok {
			t.Errorf("KindByRoute(%q) found a kind", name)
		}
	}
	// A kind that carries calls is read with ReadCalls, the others with ReadEvent: mixing them up is an
	// error, never a half-read body.
	doc, _ := airudder.Decode(airudder.ExampleListCompleted)
	if _, err := kind(t, "call-completed").ReadEvent(doc, airudder.ParseOptions{}); err == nil {
		t.Error("ReadEvent of call-completed: no error")
	}
	if _, err := kind(t, "list-completed").ReadCalls(doc, airudder.ParseOptions{}); err == nil {
		t.Error("ReadCalls of list-completed: no error")
	}
}

// A body posted to another kind's URL is refused, naming what is wrong, whichever two kinds are mixed up.
func TestEveryKindRefusesTheOthersExamples(t *testing.T) {
	for _, k := range airudder.Kinds() {
		for _, other := range airudder.Kinds() {
			if other.Calls && k.Calls { // call completion and info check share one shape
				continue
			}
			for _, ex := range other.Examples {
				if other.Route == k.Route {
					continue
				}
				ve := refused(t, k, ex.Body)
				t.Logf("%s posted to %s: %v", ex.Name, k.Route, ve)
			}
		}
	}
}

func TestInfoCheckIsReadAsCallCompletion(t *testing.T) {
	doc, err := airudder.Decode(airudder.ExampleCallCompleted)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)
	cc, err := kind(t, "info-check-completed").ReadCalls(doc, airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := kind(t, "call-completed").ReadCalls(doc, airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ic, c := cc.Received("s", at)[0], plain.Received("s", at)[0]
	if ic.Kind != "info-check-completed" || c.Kind != "" || ic.Family() != airudder.FamilyWorkflow {
		t.Errorf("kinds %q and %q, family %q", ic.Kind, c.Kind, ic.Family())
	}
	if ic.Key != c.Key || ic.Digest != c.Digest || ic.Call.Intention != "E" {
		t.Errorf("info check read otherwise than call completion: %+v", ic)
	}
	// A call completion stored before kinds existed reads back the same.
	b, _ := json.Marshal(c)
	if bytes.Contains(b, []byte(`"kind"`)) || bytes.Contains(b, []byte(`"event_time"`)) || bytes.Contains(b, []byte(`customizeResults`)) {
		t.Errorf("a call completion's JSON changed: %s", b)
	}
}

func TestListCompleted(t *testing.T) {
	k := kind(t, "list-completed")
	ev := readEvent(t, k, airudder.ExampleListCompleted, airudder.ParseOptions{})
	lc := ev.ListCompleted
	if lc == nil || lc.WorkflowID != "16e0660e6cxxxxxxxxxxxxxxxx0abfe0e191" || len(lc.Rows) != 2 || lc.Rows[1].NodeType != "waba" {
		t.Fatalf("typed = %+v", lc)
	}
	// The number enters the key hashed: keys become workflow IDs, and those are logged.
	if !strings.HasPrefix(ev.Key, "16e0660e6cxxxxxxxxxxxxxxxx0abfe0e191/7777777.0/tel:") || strings.Contains(ev.Key, "+86") {
		t.Errorf("key = %q", ev.Key)
	}
	other := readEvent(t, k, edit(t, airudder.ExampleListCompleted, func(m map[string]any) { m["callee_number"] = "+86xxxxxxxx722" }), airudder.ParseOptions{})
	if other.Key == ev.Key {
		t.Errorf("two callees share the key %q", ev.Key)
	}
	if ev.CaseID != "7777777.0" || ev.CalleeNumber != "+86xxxxxxxx721" || ev.TaskID != "490d5ec3c1xxxxxxxx2b759b5b" || ev.CallID != "" {
		t.Errorf("IDs: case %q, callee %q, task %q, call %q", ev.CaseID, ev.CalleeNumber, ev.TaskID, ev.CallID)
	}
	if strings.Contains(ev.Summary, "+86xxxxxxxx721") || !strings.Contains(ev.Summary, "7777777.0") {
		t.Errorf("summary = %q, want the case and a masked number", ev.Summary)
	}

	t.Run("odd values are kept and noted", func(t *testing.T) {
		body := edit(t, airudder.ExampleListCompleted, func(m map[string]any) {
			m["case_id"] = json.Number("7777777")
			m["rows"] = []any{"x", map[string]any{"task_id": "t2", "node_type": 3}}
			m["new_field"] = "kept"
		})
		ev := readEvent(t, k, body, airudder.ParseOptions{})
		if ev.CaseID != "7777777" || len(ev.ListCompleted.Rows) != 1 || ev.TaskID != "t2" {
			t.Errorf("case %q, rows %+v", ev.CaseID, ev.ListCompleted.Rows)
		}
		for _, f := range []string{"case_id", "rows[0]", "rows[1].node_type"} {
			if _, ok := noteOn(ev.Notes, f); !ok {
				t.Errorf("no note on %s: %+v", f, ev.Notes)
			}
		}
		if !bytes.Contains(ev.Raw, []byte(`"new_field":"kept"`)) {
			t.Errorf("raw lost an unknown field: %s", ev.Raw)
		}
	})
	t.Run("rows only: keyed by the body", func(t *testing.T) {
		body := edit(t, airudder.ExampleListCompleted, func(m map[string]any) { delete(m, "case_id"); delete(m, "callee_number") })
		ev := readEvent(t, k, body, airudder.ParseOptions{})
		if !strings.HasPrefix(ev.Key, "sha256:") {
			t.Errorf("key = %q", ev.Key)
		}
		if _, ok := noteOn(ev.Notes, "case_id"); !ok {
			t.Errorf("no note says why: %+v", ev.Notes)
		}
	})
	for name, tc := range map[string]struct {
		fn    func(m map[string]any)
		field string
	}{
		"no workflow_id":        {func(m map[string]any) { delete(m, "workflow_id") }, "workflow_id"},
		"empty workflow_id":     {func(m map[string]any) { m["workflow_id"] = "" }, "workflow_id"},
		"workflow_id an object": {func(m map[string]any) { m["workflow_id"] = map[string]any{} }, "workflow_id"},
		"no list entry":         {func(m map[string]any) { delete(m, "case_id"); delete(m, "callee_number"); delete(m, "rows") }, "case_id"},
		"calls in it":           {func(m map[string]any) { m["Details"] = []any{} }, "Details"},
	} {
		t.Run(name, func(t *testing.T) {
			if ve := refused(t, k, edit(t, airudder.ExampleListCompleted, tc.fn)); ve.Fields[0].Field != tc.field {
				t.Errorf("refused for %v, want %s", ve, tc.field)
			}
		})
	}
}

func TestStatusChanged(t *testing.T) {
	k := kind(t, "status-changed")
	ev := readEvent(t, k, airudder.ExampleStatusChanged, airudder.ParseOptions{})
	sc := ev.StatusChanged
	if sc == nil || sc.Status != "finished" || len(sc.Actions) != 1 || sc.Actions[0].TaskStatus != "finished" || sc.Actions[0].NodeType != "call" {
		t.Fatalf("typed = %+v", sc)
	}
	if ev.Key != "16e0660e6cxxxxxxxxxxxxxxxx0abfe0e191/finished" || ev.TaskID != "490d5ec3c1xxxxxxxx2b759b5b" {
		t.Errorf("key %q, task %q", ev.Key, ev.TaskID)
	}
	// Another status of the same workflow is another event; the same status again, corrected, is the same
	// event (a new digest: a revision).
	paused := readEvent(t, k, edit(t, airudder.ExampleStatusChanged, func(m map[string]any) { m["status"] = "paused" }), airudder.ParseOptions{})
	again := readEvent(t, k, edit(t, airudder.ExampleStatusChanged, func(m map[string]any) { m["workflow_name"] = "renamed" }), airudder.ParseOptions{})
	if paused.Key == ev.Key || again.Key != ev.Key || again.Digest == ev.Digest {
		t.Errorf("keys %q %q %q, digests %q %q", ev.Key, paused.Key, again.Key, ev.Digest, again.Digest)
	}
	t.Run("actions not an array", func(t *testing.T) {
		ev := readEvent(t, k, edit(t, airudder.ExampleStatusChanged, func(m map[string]any) { m["actions"] = "none" }), airudder.ParseOptions{})
		if _, ok := noteOn(ev.Notes, "actions"); !ok || ev.StatusChanged.Actions != nil {
			t.Errorf("notes %+v, actions %+v", ev.Notes, ev.StatusChanged.Actions)
		}
	})
	for name, fn := range map[string]func(m map[string]any){
		"no status":      func(m map[string]any) { delete(m, "status") },
		"status is null": func(m map[string]any) { m["status"] = nil },
	} {
		t.Run(name, func(t *testing.T) {
			if ve := refused(t, k, edit(t, airudder.ExampleStatusChanged, fn)); ve.Fields[0].Field != "status" {
				t.Errorf("refused for %v, want status", ve)
			}
		})
	}
}

func TestQAResult(t *testing.T) {
	k := kind(t, "qa-result")
	ev := readEvent(t, k, airudder.ExampleQAResult, airudder.ParseOptions{})
	qa := ev.QAResult
	if qa == nil || len(qa.Details) != 1 {
		t.Fatalf("typed = %+v", qa)
	}
	d := qa.Details[0]
	if d.RecordingID != "rec-0001" || *d.Length != 184 || *d.Words != 412 || len(d.AsrResults) != 2 || *d.AsrResults[1].Begin != 4.1 ||
		len(d.CheckPoints) != 2 || !*d.CheckPoints[0].Results[0].Hit || *d.CheckPoints[1].Results[0].Hit || *d.Scores[0].Score != 92 {
		t.Errorf("detail = %+v", d)
	}
	if ev.Key != "qa7f3c2d1exxxxxxxx55aa" || ev.TaskID != ev.Key {
		t.Errorf("key %q, task %q", ev.Key, ev.TaskID)
	}
	if !strings.Contains(ev.Summary, "SOP 1/1, Negative 0/1") {
		t.Errorf("summary = %q", ev.Summary)
	}
	// The Sign is verified as for call completion, then stored nowhere.
	if bytes.Contains(ev.Raw, []byte("Sign")) || bytes.Contains(ev.Raw, []byte("5c273771e9b452abd72de453f4191849")) {
		t.Errorf("raw keeps the Sign: %s", ev.Raw)
	}
	unsigned, _ := airudder.Decode(edit(t, airudder.ExampleQAResult, func(m map[string]any) { delete(m, "Sign") }))
	if taskID, sign := unsigned.Signed(); !errors.Is(airudder.VerifySign(taskID, sign, []string{airudder.DefaultKey}), airudder.ErrMissingSign) {
		t.Error("a QA result without Sign is not ErrMissingSign")
	}
	wrong, _ := airudder.Decode(edit(t, airudder.ExampleQAResult, func(m map[string]any) { m["TaskID"] = "another" }))
	if taskID, sign := wrong.Signed(); !errors.Is(airudder.VerifySign(taskID, sign, []string{airudder.DefaultKey}), airudder.ErrInvalidSign) {
		t.Error("a QA result whose Sign is for another task is not ErrInvalidSign")
	}

	t.Run("odd values are kept and noted", func(t *testing.T) {
		body := edit(t, airudder.ExampleQAResult, func(m map[string]any) {
			d := m["QADetail"].([]any)[0].(map[string]any)
			d["Scores"].([]any)[0].(map[string]any)["Score"] = "92.5"
			d["CheckPoint"].([]any)[0].(map[string]any)["CheckPointResultsDetail"].([]any)[0].(map[string]any)["Hit"] = "yes"
			d["Length"] = "long"
			d["AsrResults"].([]any)[0].(map[string]any)["Begin"] = "NaN"
			d["Words"] = json.Number("1e400")
		})
		ev := readEvent(t, k, body, airudder.ParseOptions{})
		d := ev.QAResult.Details[0]
		if *d.Scores[0].Score != 92.5 || d.CheckPoints[0].Results[0].Hit != nil || d.Length != nil || d.Words != nil || d.AsrResults[0].Begin != nil {
			t.Errorf("detail = %+v", d)
		}
		for _, f := range []string{"QADetail[0].Scores[0].Score", "QADetail[0].CheckPoint[0].CheckPointResultsDetail[0].Hit", "QADetail[0].Length", "QADetail[0].Words", "QADetail[0].AsrResults[0].Begin"} {
			if _, ok := noteOn(ev.Notes, f); !ok {
				t.Errorf("no note on %s: %+v", f, ev.Notes)
			}
		}
	})
	for name, tc := range map[string]struct {
		fn    func(m map[string]any)
		field string
	}{
		"no TaskID":             {func(m map[string]any) { delete(m, "TaskID") }, "TaskID"},
		"no QADetail":           {func(m map[string]any) { delete(m, "QADetail") }, "QADetail"},
		"empty QADetail":        {func(m map[string]any) { m["QADetail"] = []any{} }, "QADetail"},
		"QADetail an object":    {func(m map[string]any) { m["QADetail"] = map[string]any{} }, "QADetail"},
		"a detail not a object": {func(m map[string]any) { m["QADetail"] = []any{map[string]any{}, 7} }, "QADetail[1]"},
	} {
		t.Run(name, func(t *testing.T) {
			if ve := refused(t, k, edit(t, airudder.ExampleQAResult, tc.fn)); ve.Fields[0].Field != tc.field {
				t.Errorf("refused for %v, want %s", ve, tc.field)
			}
		})
	}
}

func TestGenericKind(t *testing.T) {
	k, err := airudder.GenericKind("waba-message-status", []string{"message.id", "statuses[0].status"})
	if err != nil {
		t.Fatal(err)
	}
	if k.On[0] != "waba_message_status" || k.Signed || k.Typed || k.Calls {
		t.Errorf("kind = %+v", k)
	}
	body := []byte(`{"message":{"id":"wamid.1/2","to":"+6281234"},"statuses":[{"status":"read"}],"n":1}`)
	ev := readEvent(t, k, body, airudder.ParseOptions{})
	if ev.Key != "wamid.1%2F2/read" || len(ev.Notes) != 0 || ev.Kind != "waba-message-status" {
		t.Errorf("key %q, notes %+v", ev.Key, ev.Notes)
	}
	if string(ev.Raw) != `{"message":{"id":"wamid.1/2","to":"+6281234"},"n":1,"statuses":[{"status":"read"}]}` {
		t.Errorf("raw = %s", ev.Raw)
	}
	// A missing key field: the body's hash, the same however the body is laid out, with a note.
	a := readEvent(t, k, []byte(`{"message":{"to":"x"},"a":[1,{"b":2,"c":3}]}`), airudder.ParseOptions{})
	b := readEvent(t, k, []byte("{\"a\": [1, {\"c\":3, \"b\":2}],\n \"message\": {\"to\": \"x\"}}"), airudder.ParseOptions{})
	if !strings.HasPrefix(a.Key, "sha256:") || a.Key != b.Key {
		t.Errorf("keys %q and %q", a.Key, b.Key)
	}
	if n, ok := noteOn(a.Notes, "message.id"); !ok || !strings.Contains(n.Why, "hash") {
		t.Errorf("notes = %+v", a.Notes)
	}
	other := readEvent(t, k, []byte(`{"message":{"to":"y"}}`), airudder.ParseOptions{})
	if other.Key == a.Key {
		t.Error("two bodies share a hash key")
	}
	// Numbers and booleans are keys as written; objects are not.
	n, _ := airudder.GenericKind("custom-api-push", []string{"id", "ok"})
	if ev := readEvent(t, n, []byte(`{"id":12345678901234567890,"ok":true}`), airudder.ParseOptions{}); ev.Key != "12345678901234567890/true" {
		t.Errorf("key = %q", ev.Key)
	}
	if ev := readEvent(t, n, []byte(`{"id":{},"ok":true}`), airudder.ParseOptions{}); !strings.HasPrefix(ev.Key, "sha256:") {
		t.Errorf("key = %q", ev.Key)
	}
	none, _ := airudder.GenericKind("chatbot-session-end", nil)
	if ev := readEvent(t, none, []byte(`{}`), airudder.ParseOptions{}); !strings.HasPrefix(ev.Key, "sha256:") || len(ev.Notes) != 0 {
		t.Errorf("key %q, notes %+v", ev.Key, ev.Notes)
	}
	for _, bad := range []struct {
		route string
		keys  []string
	}{{"pds", nil}, {"call-completed", nil}, {"Waba", nil}, {"waba_status", nil}, {"-x", nil}, {"", nil},
		{strings.Repeat("a", 65), nil}, {"waba", []string{"a..b"}}, {"waba", []string{""}}, {"waba", []string{"a[x]"}}} {
		if _, err := airudder.GenericKind(bad.route, bad.keys); err == nil {
			t.Errorf("GenericKind(%q, %q) taken", bad.route, bad.keys)
		}
	}
}

// What an event is made of stays inside what the store and Temporal take: escapes PostgreSQL refuses are
// rewritten and noted, keys are bounded, and two keys made of different parts never meet.
func TestEventsAreStorableAndBounded(t *testing.T) {
	pds := kind(t, "pds")
	body := []byte(`{"type":"AgentStatus","body":{"callid":"c1","agentName":"a\u0000b","State":"CALLING","timestamp":1}}`)
	ev := readEvent(t, pds, body, airudder.ParseOptions{})
	if !bytes.Contains(ev.Raw, []byte(`a\ufffdb`)) || bytes.Contains(ev.Raw, []byte(`\u0000`)) || ev.PDS.AgentName != "a\ufffdb" {
		t.Errorf("raw %s, agent %q", ev.Raw, ev.PDS.AgentName)
	}
	if _, ok := noteOn(ev.Notes, "body.agentName"); !ok {
		t.Errorf("no note on body.agentName: %+v", ev.Notes)
	}

	long := strings.Repeat("x", 2000)
	lc := kind(t, "list-completed")
	e1 := readEvent(t, lc, []byte(`{"workflow_id":"`+long+`","case_id":"a"}`), airudder.ParseOptions{})
	e2 := readEvent(t, lc, []byte(`{"workflow_id":"`+long+`","case_id":"b"}`), airudder.ParseOptions{})
	if len(e1.Key) > 512 || e1.Key == e2.Key {
		t.Errorf("keys of %d and %d bytes, equal: %v", len(e1.Key), len(e2.Key), e1.Key == e2.Key)
	}
	// "a/b" + "c" and "a" + "b/c" are different list entries.
	s1 := readEvent(t, lc, []byte(`{"workflow_id":"w","case_id":"a/b","callee_number":"c"}`), airudder.ParseOptions{})
	s2 := readEvent(t, lc, []byte(`{"workflow_id":"w","case_id":"a","callee_number":"b/c"}`), airudder.ParseOptions{})
	if s1.Key == s2.Key {
		t.Errorf("both keyed %q", s1.Key)
	}

	var many strings.Builder
	many.WriteString(`{"workflow_id":"w","case_id":"c","rows":[`)
	for i := range 500 {
		if i > 0 {
			many.WriteByte(',')
		}
		many.WriteString(`{"task_id":[]}`)
	}
	many.WriteString(`]}`)
	if ev := readEvent(t, lc, []byte(many.String()), airudder.ParseOptions{}); len(ev.Notes) != 100 || ev.Notes[99].Field != "(more)" {
		t.Errorf("%d notes, last %+v", len(ev.Notes), ev.Notes[len(ev.Notes)-1])
	}
}

func TestEventReceivedLargeSlim(t *testing.T) {
	ev := readEvent(t, kind(t, "pds"), airudder.ExamplePDSAgentStatus, airudder.ParseOptions{})
	at := time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)
	r := ev.Received("acme", at)
	if r.Source != "acme" || !r.ReceivedAt.Equal(at) || r.Call.Source != "acme" || !r.Call.ReceivedAt.Equal(at) || ev.Call.Source != "" {
		t.Errorf("received: %s %v, call %s %v; the parsed event changed: %q", r.Source, r.ReceivedAt, r.Call.Source, r.Call.ReceivedAt, ev.Call.Source)
	}
	if r.Large() {
		t.Error("the example is large")
	}
	big := edit(t, airudder.ExamplePDSAgentStatus, func(m map[string]any) {
		m["body"].(map[string]any)["talkremarks"] = strings.Repeat("remark ", 200_000)
	})
	large := readEvent(t, kind(t, "pds"), big, airudder.ParseOptions{}).Received("acme", at)
	slim := large.Slim()
	if !large.Large() || slim.Large() || slim.Raw != nil || slim.PDS != nil || slim.Call.RawCall != nil || slim.Key != large.Key || slim.CallID != large.CallID {
		t.Errorf("large %v, slim large %v, slim %+v", large.Large(), slim.Large(), slim)
	}
	if b, _ := json.Marshal(slim); len(b) > 4096 {
		t.Errorf("slim copy of %d bytes", len(b))
	}
}

// BenchmarkReadEvent measures decoding and reading each event kind's example.
//
//	go test ./airudder -run '^$' -bench ReadEvent -benchmem
func BenchmarkReadEvent(b *testing.B) {
	for _, k := range airudder.Kinds() {
		if k.Calls {
			continue
		}
		for _, ex := range k.Examples {
			b.Run(ex.Name, func(b *testing.B) {
				b.SetBytes(int64(len(ex.Body)))
				for b.Loop() {
					doc, err := airudder.Decode(ex.Body)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := k.ReadEvent(doc, airudder.ParseOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
