package airudder_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rudderhook/rudderhook/airudder"
)

func parse(t *testing.T, body []byte, opts airudder.ParseOptions) *airudder.CallCompleted {
	t.Helper()
	doc, err := airudder.Decode(body)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	cc, err := doc.CallCompleted(opts)
	if err != nil {
		t.Fatalf("CallCompleted: %v", err)
	}
	return cc
}

// mutate decodes the seed example, lets fn change it, and encodes it again.
func mutate(t *testing.T, fn func(env map[string]any, detail map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	dec := json.NewDecoder(strings.NewReader(string(airudder.ExampleCallCompleted)))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		t.Fatal(err)
	}
	fn(env, env["Details"].([]any)[0].(map[string]any))
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSeedExample(t *testing.T) {
	cc := parse(t, airudder.ExampleCallCompleted, airudder.ParseOptions{})

	if cc.TaskID != "490d5ec3c1xxxxxxxx2b759b5b" || cc.WorkflowID != "16e0660e6cxxxxxxxxxxxxxxxx0abfe0e191" ||
		cc.NodeTaskName != "Voicebot Call1_f405f7" || cc.TaskName != "wf_test_wf_call_webhook_Voicebot Call1_26bcf0" {
		t.Errorf("envelope = %+v", cc.Task)
	}
	if len(cc.Details) != 1 {
		t.Fatalf("len(Details) = %d", len(cc.Details))
	}
	c := cc.Details[0]
	if c.ID == nil || *c.ID != 2123875204 {
		t.Errorf("id = %v", c.ID)
	}
	if want := time.Date(2024, 3, 11, 3, 20, 30, 0, time.UTC); c.CallStartTime == nil || !c.CallStartTime.Equal(want) {
		t.Errorf("CallStartTime = %v, want %v", c.CallStartTime, want)
	}
	if c.BorrowedAmount.String() != "20000.00" || c.TotalOwingAmount.String() != "20310.00" {
		t.Errorf("amounts = %s, %s", c.BorrowedAmount, c.TotalOwingAmount)
	}
	if c.DueDate.String() != "2024-03-02" || c.BorrowedDate.String() != "2024-02-01" {
		t.Errorf("dates = %s, %s", c.BorrowedDate, c.DueDate)
	}
	if c.CaseID != "7777777.0" || c.Comments != "7777777.0" {
		t.Errorf("CaseID, Comments = %q, %q", c.CaseID, c.Comments)
	}
	if c.CalleeGender != "" || c.RingType != airudder.RingTypeNormal || c.HangupType != airudder.HangupTypeByRobot {
		t.Errorf("gender, ring, hangup = %q %q %q", c.CalleeGender, c.RingType, c.HangupType)
	}
	if *c.CallTimes != 2 || *c.RingTime != 5 || *c.TalkRound != 0 {
		t.Errorf("CallTimes, RingTime, TalkRound = %d %d %d", *c.CallTimes, *c.RingTime, *c.TalkRound)
	}
	if len(c.AsrResult) != 8 || c.AsrResult[1].RobotText != "Apa boleh minta waktunya sebentar?" || c.AsrResult[7].Time != "00:00:18" {
		t.Errorf("AsrResult = %+v", c.AsrResult)
	}
	if len(c.RedialCalls) != 1 {
		t.Fatalf("RedailCall = %+v", c.RedialCalls)
	}
	r := c.RedialCalls[0]
	if want := time.Date(2024, 3, 11, 10, 19, 27, 0, time.UTC); !r.CallStartTime.Equal(want) {
		t.Errorf("redial time = %v, want %v (UTC by default)", r.CallStartTime, want)
	}
	if r.CallID != "cb035452180xxxxxxxxb2c7db" || r.ResultLabel != "F" || r.CalleeNumber != "+86xxxxxxxx01" || *r.RingTime != 2 {
		t.Errorf("redial = %+v", r)
	}
	if string(c.NerSlots) == "" || !strings.Contains(string(c.EventLabel), "identity_correct_person") || !strings.Contains(string(c.Variables), `"var3"`) {
		t.Errorf("objects = %s %s %s", c.NerSlots, c.EventLabel, c.Variables)
	}
	if c.MultiIntention != nil {
		t.Errorf("Multi_intention absent but = %s", c.MultiIntention)
	}
	if c.IntentionDescription != "Needs Follow Up" || c.CallerNumber != "+95xxxxxxxx88" {
		t.Errorf("intention_description, caller_number = %q %q", c.IntentionDescription, c.CallerNumber)
	}
	if got := c.Key(cc.TaskID); got != "cad907xxxxxxxx35644a" {
		t.Errorf("Key = %q", got)
	}
}

func TestParseRedialZoneIsPerSource(t *testing.T) {
	jakarta, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	cc := parse(t, airudder.ExampleCallCompleted, airudder.ParseOptions{RedialLocation: jakarta})
	// 10:19:27 in Jakarta (UTC+7) is 03:19:27 UTC: one minute before the main call started, as it should be.
	if got, want := *cc.Details[0].RedialCalls[0].CallStartTime, time.Date(2024, 3, 11, 3, 19, 27, 0, time.UTC); !got.Equal(want) {
		t.Errorf("redial time = %v, want %v", got, want)
	}
}

func TestParseKeepsLargeIDsAndUnknownFields(t *testing.T) {
	body := mutate(t, func(env, d map[string]any) {
		d["id"] = json.Number("9007199254740993") // 2^53+1: a float64 would round it
		d["BrandNewField"] = map[string]any{"x": 1}
		env["EnvelopeExtra"] = "kept"
	})
	cc := parse(t, body, airudder.ParseOptions{})
	if got := *cc.Details[0].ID; got != 9007199254740993 {
		t.Errorf("id = %d", got)
	}
	if !strings.Contains(string(cc.Details[0].Raw), `"BrandNewField"`) {
		t.Errorf("raw detail lost the unknown field: %s", cc.Details[0].Raw)
	}
	if !strings.Contains(string(cc.RawTask), `"EnvelopeExtra":"kept"`) || strings.Contains(string(cc.RawTask), "Details") {
		t.Errorf("raw task = %s", cc.RawTask)
	}
}

func TestParseSeveralCallsAndFallbackKey(t *testing.T) {
	body := mutate(t, func(env, d map[string]any) {
		second := map[string]any{"id": json.Number("3000000001"), "CallID": "", "RingType": "null", "Status": "failed"}
		env["Details"] = append(env["Details"].([]any), second)
	})
	cc := parse(t, body, airudder.ParseOptions{})
	if len(cc.Details) != 2 {
		t.Fatalf("len(Details) = %d", len(cc.Details))
	}
	second := cc.Details[1]
	if got := second.Key(cc.TaskID); got != "490d5ec3c1xxxxxxxx2b759b5b/3000000001" {
		t.Errorf("Key = %q", got)
	}
	if second.RingType != airudder.RingTypeNull || second.CallStartTime != nil || second.BorrowedAmount != nil {
		t.Errorf("second = %+v", second)
	}
}

// A call that names itself by neither CallID nor TaskID and id does not refuse the calls sent with it:
// it is kept under the hash of its content, with a note saying so; the same element, however
// re-serialized, has the same key, and another element another.
func TestParseKeepsACallWithoutIdentityUnderItsContentKey(t *testing.T) {
	anonymous := func(callID any, status string) []byte {
		return mutate(t, func(env, d map[string]any) {
			second := map[string]any{"CallID": callID, "CalleeNumber": "+6281234567", "Status": status, "Intention": "A"}
			if callID == nil {
				delete(second, "CallID")
			}
			env["Details"] = append(env["Details"].([]any), second)
		})
	}
	for _, tc := range []struct {
		name   string
		callID any
	}{{"empty CallID", ""}, {"no CallID", nil}, {"CallID of another type", []any{}}} {
		t.Run(tc.name, func(t *testing.T) {
			cc := parse(t, anonymous(tc.callID, "finished"), airudder.ParseOptions{})
			if len(cc.Details) != 2 || cc.Details[0].Key(cc.TaskID) != "cad907xxxxxxxx35644a" {
				t.Fatalf("calls %d, first key %q: want the sibling kept as it is", len(cc.Details), cc.Details[0].Key(cc.TaskID))
			}
			second := cc.Details[1]
			key := second.Key(cc.TaskID)
			if !strings.HasPrefix(key, "sha256:") || len(key) != 71 || key != second.ContentKey() {
				t.Errorf("key = %q, want sha256: and 64 hex digits", key)
			}
			if why := airudder.NoteFields(second.Notes)["CallID"]; !strings.Contains(why, "hash of its content") || !strings.Contains(why, key) {
				t.Errorf("notes = %+v, want one on CallID naming the content key", second.Notes)
			}
			received := cc.Received("airudder", time.Now())
			if received[1].Key != key || len(airudder.NoteFields(received[0].ParseNotes)["CallID"]) != 0 {
				t.Errorf("received keys %q, %q; first call's notes %+v", received[0].Key, received[1].Key, received[0].ParseNotes)
			}
		})
	}
	// The same element, its members in another order and spaced out, has the same key.
	respaced := strings.Replace(string(anonymous("", "finished")), `{"CallID":"","CalleeNumber":"+6281234567","Intention":"A","Status":"finished"}`,
		`{ "Status": "finished", "Intention": "A", "CalleeNumber": "+6281234567", "CallID": "" }`, 1)
	if respaced == string(anonymous("", "finished")) {
		t.Fatal("the element was not re-spaced: the test's body changed")
	}
	a := parse(t, anonymous("", "finished"), airudder.ParseOptions{}).Details[1].ContentKey()
	b := parse(t, []byte(respaced), airudder.ParseOptions{}).Details[1].ContentKey()
	c := parse(t, anonymous("", "failed"), airudder.ParseOptions{}).Details[1].ContentKey()
	if a != b || a == c {
		t.Errorf("keys %s, re-spaced %s, another call %s", a, b, c)
	}
}

func TestParseNullAndEmptyCountAsAbsent(t *testing.T) {
	body := mutate(t, func(env, d map[string]any) {
		d["DueDate"] = ""
		d["BorrowedAmount"] = nil
		d["NerSlots"] = nil
		d["RingTime"] = nil
		d["CallEndTime"] = ""
	})
	c := parse(t, body, airudder.ParseOptions{}).Details[0]
	if c.DueDate != nil || c.BorrowedAmount != nil || c.NerSlots != nil || c.RingTime != nil || c.CallEndTime != nil {
		t.Errorf("want absent, got %v %v %s %v %v", c.DueDate, c.BorrowedAmount, c.NerSlots, c.RingTime, c.CallEndTime)
	}
}

// Text the seed types as text never refuses a call: a field that does not fit its type is kept in the raw
// JSON, its typed value is left empty, and a parse note names it.
func TestParseKeepsTheCallAndNotesFieldsThatDoNotFit(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(env, d map[string]any)
		field string
		check func(t *testing.T, c airudder.Call)
	}{
		{"amount with thousands separator (default ,)", func(_, d map[string]any) { d["BorrowedAmount"] = "12,000.00" }, "", func(t *testing.T, c airudder.Call) {
			if c.BorrowedAmount == nil || c.BorrowedAmount.String() != "12000.00" {
				t.Errorf("BorrowedAmount = %v", c.BorrowedAmount)
			}
		}},
		{"amount in words", func(_, d map[string]any) { d["BorrowedAmount"] = "lots" }, "BorrowedAmount", func(t *testing.T, c airudder.Call) {
			if c.BorrowedAmount != nil {
				t.Errorf("BorrowedAmount = %v, want empty", c.BorrowedAmount)
			}
		}},
		{"amount with irregular grouping", func(_, d map[string]any) { d["TotalOwingAmount"] = "1,20,000.00" }, "TotalOwingAmount", nil},
		{"amount as a bare number", func(_, d map[string]any) { d["TotalOwingAmount"] = json.Number("20310.5") }, "TotalOwingAmount", func(t *testing.T, c airudder.Call) {
			if c.TotalOwingAmount == nil || c.TotalOwingAmount.String() != "20310.5" {
				t.Errorf("TotalOwingAmount = %v", c.TotalOwingAmount)
			}
		}},
		{"amount beyond numeric", func(_, d map[string]any) { d["BorrowedAmount"] = "0." + strings.Repeat("1", 17000) }, "BorrowedAmount", nil},
		{"date in a tenant's layout", func(_, d map[string]any) { d["DueDate"] = "31/12/2024" }, "DueDate", func(t *testing.T, c airudder.Call) {
			if c.DueDate != nil {
				t.Errorf("DueDate = %v, want empty", c.DueDate)
			}
		}},
		{"date of year 0", func(_, d map[string]any) { d["BorrowedDate"] = "0000-01-01" }, "BorrowedDate", nil},
		{"time of year 0", func(_, d map[string]any) { d["CallStartTime"] = "0001-01-01T00:00:00+01:00" }, "CallStartTime", nil},
		{"bad time", func(_, d map[string]any) { d["CallStartTime"] = "yesterday" }, "CallStartTime", nil},
		{"string as number keeps its text", func(_, d map[string]any) { d["CaseID"] = json.Number("7777777") }, "CaseID", func(t *testing.T, c airudder.Call) {
			if c.CaseID != "7777777" {
				t.Errorf("CaseID = %q", c.CaseID)
			}
		}},
		{"integer as string", func(_, d map[string]any) { d["CallTimes"] = "2" }, "CallTimes", func(t *testing.T, c airudder.Call) {
			if c.CallTimes == nil || *c.CallTimes != 2 {
				t.Errorf("CallTimes = %v", c.CallTimes)
			}
		}},
		{"integer in words", func(_, d map[string]any) { d["CallTimes"] = "two" }, "CallTimes", nil},
		{"integer with fraction", func(_, d map[string]any) { d["TalkRound"] = json.Number("1.5") }, "TalkRound", nil},
		{"id overflow with a CallID", func(_, d map[string]any) { d["id"] = json.Number("99999999999999999999") }, "id", nil},
		{"object as empty string", func(_, d map[string]any) { d["NerSlots"] = "" }, "NerSlots", func(t *testing.T, c airudder.Call) {
			if c.NerSlots != nil {
				t.Errorf("NerSlots = %s", c.NerSlots)
			}
		}},
		{"object as empty array", func(_, d map[string]any) { d["Variables"] = []any{} }, "Variables", nil},
		{"object as text", func(_, d map[string]any) { d["Variables"] = "var1=aaa" }, "Variables", nil},
		{"transcript not an array", func(_, d map[string]any) { d["AsrResult"] = map[string]any{} }, "AsrResult", nil},
		{"transcript entry not an object", func(_, d map[string]any) { d["AsrResult"] = []any{"hello", map[string]any{"text": "hi"}} }, "AsrResult[0]", func(t *testing.T, c airudder.Call) {
			if len(c.AsrResult) != 1 || c.AsrResult[0].Text != "hi" {
				t.Errorf("AsrResult = %+v", c.AsrResult)
			}
		}},
		{"transcript entry field", func(_, d map[string]any) { d["AsrResult"] = []any{map[string]any{"time": []any{}}} }, "AsrResult[0].time", nil},
		{"redial field", func(_, d map[string]any) { d["RedailCall"] = []any{map[string]any{"RingTime": "soon"}} }, "RedailCall[0].RingTime", nil},
		{"envelope field", func(env, _ map[string]any) { env["TaskName"] = []any{1} }, "TaskName", nil},
		{"NUL in a text", func(_, d map[string]any) { d["CalleeName"] = "Bu\x00di" }, "CalleeName", func(t *testing.T, c airudder.Call) {
			if c.CalleeName != "Bu\ufffddi" || strings.Contains(string(c.Raw), `\u0000`) {
				t.Errorf("CalleeName = %q, raw %s", c.CalleeName, c.Raw)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := parse(t, mutate(t, tc.edit), airudder.ParseOptions{})
			c := cc.Details[0]
			notes := cc.Received("airudder", time.Now())[0].ParseNotes
			fields := airudder.NoteFields(notes)
			switch {
			case tc.field == "" && len(notes) > 0:
				t.Errorf("notes = %+v, want none", notes)
			case tc.field != "" && fields[tc.field] == "":
				t.Errorf("notes = %+v, want one for %s", notes, tc.field)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestParseNotesAreBounded(t *testing.T) {
	many := make([]any, 5000)
	for i := range many {
		many[i] = json.Number("1")
	}
	cc := parse(t, mutate(t, func(_, d map[string]any) {
		d["DueDate"] = strings.Repeat("9", 100_000)
		d["AsrResult"] = many
	}), airudder.ParseOptions{})
	notes := cc.Received("s", time.Time{})[0].ParseNotes
	if len(notes) != 100 || notes[0].Field != "DueDate" || len(notes[0].Why) > 200 || len(notes[0].Text) > 200 ||
		notes[99].Field != "(more)" || !strings.Contains(notes[99].Why, "4902 more") || !strings.Contains(notes[0].Why, "is not a date") {
		t.Errorf("%d notes, first %+v, last %+v", len(notes), notes[0], notes[len(notes)-1])
	}
}

func TestParseNoteKeepsTheTextAsSent(t *testing.T) {
	cc := parse(t, mutate(t, func(_, d map[string]any) { d["DueDate"] = "31/12/2024" }), airudder.ParseOptions{})
	n := cc.Details[0].Notes
	if len(n) != 1 || n[0].Field != "DueDate" || n[0].Text != "31/12/2024" || !strings.Contains(n[0].Why, "not a date") {
		t.Errorf("notes = %+v", n)
	}
	if !strings.Contains(string(cc.Details[0].Raw), `"DueDate":"31/12/2024"`) {
		t.Errorf("raw lost the text: %s", cc.Details[0].Raw)
	}
}

func TestParseTenantFormats(t *testing.T) {
	body := mutate(t, func(_, d map[string]any) {
		d["DueDate"] = "31/12/2024"
		d["BorrowedAmount"] = "12.000,50"
		d["TotalOwingAmount"] = "-1.234.567"
	})
	cc := parse(t, body, airudder.ParseOptions{DateLayouts: []string{"02/01/2006"}, DecimalSeparator: ",", ThousandsSeparator: "."})
	c := cc.Details[0]
	if len(c.Notes) != 0 || c.DueDate == nil || c.DueDate.String() != "2024-12-31" ||
		c.BorrowedAmount.String() != "12000.50" || c.TotalOwingAmount.String() != "-1234567" {
		t.Errorf("notes %+v, due %v, borrowed %v, owing %v", c.Notes, c.DueDate, c.BorrowedAmount, c.TotalOwingAmount)
	}
	// With "," as the decimal separator, "20000.00" is not an amount: it is noted, not guessed.
	cc = parse(t, airudder.ExampleCallCompleted, airudder.ParseOptions{DecimalSeparator: ",", ThousandsSeparator: "none"})
	if f := airudder.NoteFields(cc.Details[0].Notes); f["BorrowedAmount"] == "" {
		t.Errorf("notes = %+v", cc.Details[0].Notes)
	}
}

// Only a body that is not a call-completion envelope at all is refused; the refusal names the field.
func TestParseRefusesWhatIsNoCallCompletion(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(env, d map[string]any)
		field string
	}{
		{"empty Details", func(env, _ map[string]any) { env["Details"] = []any{} }, "Details"},
		{"no Details", func(env, _ map[string]any) { delete(env, "Details") }, "Details"},
		{"Details not an array", func(env, _ map[string]any) { env["Details"] = map[string]any{} }, "Details"},
		{"detail not an object", func(env, _ map[string]any) { env["Details"] = []any{"x"} }, "Details[0]"},
		{"a key longer than a workflow ID takes", func(env, d map[string]any) { d["CallID"] = strings.Repeat("c", 600) }, "Details[0].CallID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := airudder.Decode(mutate(t, tc.edit))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			_, err = doc.CallCompleted(airudder.ParseOptions{})
			var ve *airudder.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if ve.Fields[0].Field != tc.field {
				t.Errorf("field = %q (%v), want %q", ve.Fields[0].Field, ve, tc.field)
			}
		})
	}
}

func TestParseCapsCallsPerBody(t *testing.T) {
	body := mutate(t, func(env, d map[string]any) { env["Details"] = []any{d, d, d} })
	doc, err := airudder.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	var tooMany *airudder.TooManyCallsError
	if _, err := doc.CallCompleted(airudder.ParseOptions{MaxCalls: 2}); !errors.As(err, &tooMany) || tooMany.Calls != 3 {
		t.Errorf("err = %v, want TooManyCallsError for 3 calls", err)
	}
	if _, err := doc.CallCompleted(airudder.ParseOptions{MaxCalls: 3}); err != nil {
		t.Errorf("3 calls with a cap of 3: %v", err)
	}
}

// The Sign is a credential that never expires: it is verified and dropped, and stored nowhere.
func TestSignIsDropped(t *testing.T) {
	doc, err := airudder.Decode(airudder.ExampleCallCompleted)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := doc.CallCompleted(airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := cc.Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	const sign = "21816736b9b630184126f8fb3bb74d3b"
	for name, b := range map[string][]byte{"raw task": cc.RawTask, "inbox body": unsigned} {
		if bytes.Contains(b, []byte(sign)) || bytes.Contains(b, []byte(`"Sign"`)) {
			t.Errorf("%s keeps the Sign: %s", name, b)
		}
	}
	again, err := airudder.Decode(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	cc2, err := again.CallCompleted(airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := cc.Received("s", time.Time{}), cc2.Received("s", time.Time{})
	if r1[0].Digest != r2[0].Digest {
		t.Errorf("the unsigned body reads as another revision: %s vs %s", r1[0].Digest, r2[0].Digest)
	}
}

// A body whose unstorable escapes were rewritten is kept by the inbox as sent (without its Sign), so that
// the relay, reading it again, finds the same calls and events with the same digests and the same parse
// notes, the original text in them: what the receiver found in temporal mode.
func TestUnsignedBodyReadsAgainWithItsParseNotes(t *testing.T) {
	escaped := func(body []byte) []byte {
		b := bytes.Replace(body, []byte(`"WILL SMITH"`), []byte(`"WILL\u0000SMITH \ud83d"`), 1)
		return bytes.Replace(b, []byte(`"490d5ec3c1xxxxxxxx2b759b5b",`), []byte(`"490d5ec3c1xxxxxxxx2b759b5b", "Note": "a\ud800",`), 1)
	}
	calls := func(body []byte) []airudder.ReceivedCall {
		t.Helper()
		doc, err := airudder.Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := doc.CallCompleted(airudder.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cc.Received("s", time.Time{})
	}
	body := escaped(airudder.ExampleCallCompleted)
	doc, err := airudder.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := doc.CallCompleted(airudder.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := cc.Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(unsigned, []byte(`"Sign"`)) {
		t.Errorf("the inbox body keeps the Sign: %s", unsigned)
	}
	first, again := calls(body), calls(unsigned)
	if len(first[0].ParseNotes) != 2 {
		t.Fatalf("notes of the received call = %+v, want the envelope's Note and the call's CalleeName", first[0].ParseNotes)
	}
	if first[0].Digest != again[0].Digest || !reflect.DeepEqual(first[0].ParseNotes, again[0].ParseNotes) {
		t.Errorf("read from the inbox: digest %s, notes %+v; received: digest %s, notes %+v",
			again[0].Digest, again[0].ParseNotes, first[0].Digest, first[0].ParseNotes)
	}

	k, _ := airudder.KindByRoute(airudder.KindListCompleted)
	read := func(body []byte) *airudder.Event {
		t.Helper()
		doc, err := airudder.Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := k.ReadEvent(doc, airudder.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	event := bytes.Replace(airudder.ExampleListCompleted, []byte(`"7777777.0"`), []byte(`"7777777.0\ud800"`), 1)
	ev := read(event)
	unsigned, err = ev.Received("s", time.Time{}).Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	if evAgain := read(unsigned); len(ev.Notes) == 0 || ev.Digest != evAgain.Digest || !reflect.DeepEqual(ev.Notes, evAgain.Notes) {
		t.Errorf("event read from the inbox: digest %s, notes %+v; received: digest %s, notes %+v", evAgain.Digest, evAgain.Notes, ev.Digest, ev.Notes)
	}
}

func TestDecodeMakesEscapesStorable(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"lone high surrogate":   {`{"id":1,"a":"x\ud800y"}`, `{"id":1,"a":"x\ufffdy"}`},
		"lone low surrogate":    {`{"id":1,"a":"\uDC00"}`, `{"id":1,"a":"\ufffd"}`},
		"high then not low":     {`{"id":1,"a":"\ud800\u0041"}`, `{"id":1,"a":"\ufffd\u0041"}`},
		"NUL":                   {`{"id":1,"a":"\u0000"}`, `{"id":1,"a":"\ufffd"}`},
		"NUL in a key":          {`{"id":1,"a\u0000":1}`, `{"id":1,"a\ufffd":1}`},
		"a pair stays":          {`{"id":1,"a":"\ud83d\ude00"}`, `{"id":1,"a":"\ud83d\ude00"}`},
		"escaped backslash":     {`{"id":1,"a":"\\ud800"}`, `{"id":1,"a":"\\ud800"}`},
		"outside strings alone": {`{"id":1,"a":1}`, `{"id":1,"a":1}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			doc, err := airudder.Decode([]byte(`{"TaskID":"t","Details":[` + tc.in + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			cc, err := doc.CallCompleted(airudder.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := cc.Details[0].Raw
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if (tc.in != tc.want) != (len(cc.Received("s", time.Time{})[0].ParseNotes) > 0) {
				t.Errorf("notes = %+v", cc.Received("s", time.Time{})[0].ParseNotes)
			}
		})
	}
}

func TestDecodeRejectsMalformedBodies(t *testing.T) {
	cases := map[string]struct {
		body   string
		syntax bool // 400 rather than 422
	}{
		"empty":           {"", true},
		"truncated":       {`{"TaskID": "a"`, true},
		"not UTF-8":       {"{\"TaskID\": \"\xff\xfe\"}", true},
		"two values":      {`{} {}`, true},
		"trailing junk":   {`{"a":1} x`, true},
		"array":           {`[{}]`, false},
		"string":          {`"hello"`, false},
		"null":            {`null`, false},
		"huge number":     {`{"Variables": {"n": 1e400000}}`, false},
		"tiny number":     {`{"Variables": {"n": 1e-20000}}`, false},
		"long fraction":   {`{"n": 0.` + strings.Repeat("1", 16384) + `}`, false},
		"only whitespace": {"  \n ", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := airudder.Decode([]byte(tc.body))
			var se *airudder.SyntaxError
			var ve *airudder.ValidationError
			switch {
			case tc.syntax && !errors.As(err, &se):
				t.Errorf("err = %v, want a SyntaxError", err)
			case !tc.syntax && !errors.As(err, &ve):
				t.Errorf("err = %v, want a ValidationError", err)
			}
		})
	}
}

func TestOtherFixturesAreNotCallCompletions(t *testing.T) {
	// The other callback kinds decode as JSON but are not call completions: a receiver that mixed up the
	// URLs must get a clear 422, not store an empty call.
	for _, name := range []string{"list_completed.json", "status_changed.json", "pds_contact_status.json"} {
		body, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := airudder.Decode(body)
		if err != nil {
			t.Fatalf("%s: Decode: %v", name, err)
		}
		var ve *airudder.ValidationError
		if _, err := doc.CallCompleted(airudder.ParseOptions{}); !errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want a ValidationError", name, err)
		}
	}
}

func TestDecimalKeepsScale(t *testing.T) {
	for _, s := range []string{"20000.00", "0.10", "-5", "123456789012345678901234567890.123"} {
		d, err := airudder.ParseDecimal(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		b, _ := json.Marshal(d)
		if d.String() != s || string(b) != `"`+s+`"` {
			t.Errorf("%s: String = %s, JSON = %s", s, d, b)
		}
	}
	for _, s := range []string{"1e3", "12,000.00", "", "NaN"} {
		if _, err := airudder.ParseDecimal(s); err == nil {
			t.Errorf("%q: want an error", s)
		}
	}
}

// FuzzParse reads any body as every kind: what is refused names a field; what is accepted identifies
// every call and event, within the limits that the store and Temporal set, and survives the round trip to
// JSON.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) < 7 {
		f.Fatalf("fixtures: %v, %v", files, err)
	}
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"Details":[{"id":1e400}]}`))
	f.Add([]byte(`{"TaskID":"t","Details":[{"id":-1,"RedailCall":[null,{}],"AsrResult":[[]]}]}`))
	f.Add([]byte(`{"type":"agentstatus","body":{"state":"x","State":"TALKRESULT","callid":"a/b","timestamp":"-1","customizeResults":[{"title":"Level1","value":1},{"title":"Level1"}]}}`))
	f.Add([]byte(`{"TaskID":"q","QADetail":[{"Scores":[{"Score":"1e999"},{"Score":"Inf"}],"CheckPoint":[{"CheckPointResultsDetail":[{"Hit":"true"}]}]}]}`))
	f.Add([]byte(`{"workflow_id":7,"status":"s","rows":{},"message":{"id":["x"]},"items":[{"id":1}]}`))
	generic, err := airudder.GenericKind("fuzz", []string{"message.id", "items[0].id"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := airudder.Decode(body)
		if err != nil {
			return
		}
		doc.Signed()
		for _, k := range append(airudder.Kinds(), generic) {
			if k.Calls {
				fuzzCalls(t, k, doc)
			} else {
				fuzzEvent(t, k, doc)
			}
		}
	})
}

// refusedWithAField reports whether err refused the body, failing the test unless it names a field.
func refusedWithAField(t *testing.T, k airudder.Kind, err error) bool {
	if err == nil {
		return false
	}
	var ve *airudder.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 {
		t.Fatalf("%s: rejection without a named field: %v", k.Route, err)
	}
	return true
}

func fuzzCalls(t *testing.T, k airudder.Kind, doc *airudder.Document) {
	cc, err := k.ReadCalls(doc, airudder.ParseOptions{})
	if refusedWithAField(t, k, err) {
		return
	}
	for _, c := range cc.Details {
		if c.Key(cc.TaskID) == "" {
			t.Fatalf("accepted a call with no key: %s", c.Raw)
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("marshal accepted call: %v", err)
		}
	}
}

func fuzzEvent(t *testing.T, k airudder.Kind, doc *airudder.Document) {
	ev, err := k.ReadEvent(doc, airudder.ParseOptions{})
	if refusedWithAField(t, k, err) {
		return
	}
	if ev.Key == "" || len(ev.Key) > 512 || ev.Kind != k.Route || ev.On == "" || ev.Digest == "" {
		t.Fatalf("%s: key %q (%d bytes), kind %q, on %q", k.Route, ev.Key, len(ev.Key), ev.Kind, ev.On)
	}
	if len(ev.Summary) > 200 || !utf8.ValidString(ev.Summary) || len(ev.Notes) > 100 {
		t.Fatalf("%s: summary of %d bytes, %d notes", k.Route, len(ev.Summary), len(ev.Notes))
	}
	if !json.Valid(ev.Raw) || bytes.Contains(ev.Raw, []byte(`\u0000`)) {
		t.Fatalf("%s: raw not storable: %s", k.Route, ev.Raw)
	}
	if ev.Call != nil && (ev.Call.Key == "" || len(ev.Call.Key) > 512 || !json.Valid(ev.Call.RawCall) || !json.Valid(ev.Call.RawTask)) {
		t.Fatalf("%s: call key %q, raw %s / %s", k.Route, ev.Call.Key, ev.Call.RawCall, ev.Call.RawTask)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("%s: marshal accepted event: %v", k.Route, err)
	}
	var back airudder.Event
	if err := json.Unmarshal(b, &back); err != nil || back.Key != ev.Key || back.Digest != ev.Digest {
		t.Fatalf("%s: the event does not survive JSON: %v", k.Route, err)
	}
}

// BenchmarkParseSeed measures decoding, Sign verification and validation of the seed callback.
//
//	go test ./airudder -run '^$' -bench Parse -benchmem
func BenchmarkParseSeed(b *testing.B) {
	b.SetBytes(int64(len(airudder.ExampleCallCompleted)))
	for b.Loop() {
		doc, err := airudder.Decode(airudder.ExampleCallCompleted)
		if err != nil {
			b.Fatal(err)
		}
		taskID, sign := doc.Signed()
		if err := airudder.VerifySign(taskID, sign, []string{airudder.DefaultKey}); err != nil {
			b.Fatal(err)
		}
		if _, err := doc.CallCompleted(airudder.ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A number that PostgreSQL's numeric cannot store is refused before the ack, named by its path.
func TestUnstorableNumberIsNamedByItsPath(t *testing.T) {
	for body, field := range map[string]string{
		`{"Details":[{"CallID":"c","Variables":{"n":1e400000}}]}`:                             "Details[0].Variables.n",
		`{"Details":[{"CallID":"c","AsrResult":[{},{"x":[0,1e-16384]}]}]}`:                    "Details[0].AsrResult[1].x[1]",
		`{"Extra":0.` + strings.Repeat("0", 16383) + `1,"Details":[{"CallID":"c"}]}`:          "Extra",
		`{"Details":[{"CallID":"c","n":0.` + strings.Repeat("5", 16383) + `}],"ok":1e131071}`: "",
	} {
		_, err := airudder.Decode([]byte(body))
		var ve *airudder.ValidationError
		switch {
		case field == "" && err != nil:
			t.Errorf("%.60s…: %v, want it taken (at the limits)", body, err)
		case field != "" && (!errors.As(err, &ve) || ve.Fields[0].Field != field):
			t.Errorf("%.60s…: %v, want a ValidationError naming %s", body, err, field)
		}
	}
}
