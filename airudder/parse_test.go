package airudder_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

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

func TestParseRejectsWrongTypesNamingTheField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(env, d map[string]any)
		field string
	}{
		{"string as number", func(_, d map[string]any) { d["CaseID"] = json.Number("7777777") }, "Details[0].CaseID"},
		{"integer as string", func(_, d map[string]any) { d["CallTimes"] = "2" }, "Details[0].CallTimes"},
		{"integer with fraction", func(_, d map[string]any) { d["TalkRound"] = json.Number("1.5") }, "Details[0].TalkRound"},
		{"id overflow", func(_, d map[string]any) { d["id"] = json.Number("99999999999999999999") }, "Details[0].id"},
		{"money not a number", func(_, d map[string]any) { d["BorrowedAmount"] = "lots" }, "Details[0].BorrowedAmount"},
		{"money as float", func(_, d map[string]any) { d["TotalOwingAmount"] = json.Number("20310.5") }, "Details[0].TotalOwingAmount"},
		{"bad time", func(_, d map[string]any) { d["CallStartTime"] = "yesterday" }, "Details[0].CallStartTime"},
		{"bad date", func(_, d map[string]any) { d["DueDate"] = "02/03/2024" }, "Details[0].DueDate"},
		{"object as string", func(_, d map[string]any) { d["Variables"] = "var1=aaa" }, "Details[0].Variables"},
		{"transcript not an array", func(_, d map[string]any) { d["AsrResult"] = map[string]any{} }, "Details[0].AsrResult"},
		{"transcript entry field", func(_, d map[string]any) { d["AsrResult"] = []any{map[string]any{"time": json.Number("3")}} }, "Details[0].AsrResult[0].time"},
		{"redial field", func(_, d map[string]any) { d["RedailCall"] = []any{map[string]any{"RingTime": "2"}} }, "Details[0].RedailCall[0].RingTime"},
		{"envelope field", func(env, _ map[string]any) { env["TaskName"] = json.Number("1") }, "TaskName"},
		{"empty Details", func(env, _ map[string]any) { env["Details"] = []any{} }, "Details"},
		{"no Details", func(env, _ map[string]any) { delete(env, "Details") }, "Details"},
		{"Details not an array", func(env, _ map[string]any) { env["Details"] = map[string]any{} }, "Details"},
		{"detail not an object", func(env, _ map[string]any) { env["Details"] = []any{"x"} }, "Details[0]"},
		{"no way to identify the call", func(env, d map[string]any) { d["CallID"] = ""; delete(d, "id") }, "Details[0].CallID"},
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
		"NUL in a string": {`{"Variables": {"a": "x\u0000y"}}`, false},
		"NUL in a key":    {`{"a\u0000": 1}`, false},
		"huge number":     {`{"Variables": {"n": 1e400000}}`, false},
		"tiny number":     {`{"Variables": {"n": 1e-20000}}`, false},
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

func FuzzParse(f *testing.F) {
	for _, name := range []string{"call_completion.json", "list_completed.json", "status_changed.json", "pds_contact_status.json"} {
		body, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"Details":[{"id":1e400}]}`))
	f.Add([]byte(`{"TaskID":"t","Details":[{"id":-1,"RedailCall":[null,{}],"AsrResult":[[]]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := airudder.Decode(body)
		if err != nil {
			return
		}
		doc.Signed()
		cc, err := doc.CallCompleted(airudder.ParseOptions{})
		if err != nil {
			var ve *airudder.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("rejection without a named field: %v", err)
			}
			return
		}
		// Whatever is accepted identifies every call, and survives the round trip to JSON.
		for _, c := range cc.Details {
			if c.Key(cc.TaskID) == "" {
				t.Fatalf("accepted a call with no key: %s", c.Raw)
			}
			if _, err := json.Marshal(c); err != nil {
				t.Fatalf("marshal accepted call: %v", err)
			}
		}
	})
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
