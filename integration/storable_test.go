package integration

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/payload"
)

// randomText is n incompressible letters (a btree index or a search attribute would not squeeze it).
func randomText(n int) string {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

// Bodies that a sender really posts, and that once were answered 200 and then never stored (or refused
// whole): each call is acknowledged, started on the real Temporal server with its real limits, stored,
// and shows a parse note for what did not fit its type.
func TestOddCallsAreAcknowledgedAndStored(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	longCaseID := randomText(5000)
	cases := []struct {
		callID string
		edit   func(d map[string]any)
		note   string // the field that gets a parse note ("" for none)
	}{
		{"odd-surrogate", func(d map[string]any) { d["CalleeName"] = "LONE-SURROGATE" }, "CalleeName"},
		{"odd-nul-key", func(d map[string]any) { d["Variables"] = map[string]any{"NUL-KEY": "x"} }, "Variables"},
		{"odd-long-case", func(d map[string]any) { d["CaseID"] = longCaseID }, ""},
		{"odd-long-intention", func(d map[string]any) { d["Intention"] = randomText(3000) }, ""},
		{"odd-due-date", func(d map[string]any) { d["DueDate"] = "31/12/2024" }, "DueDate"},
		{"odd-amount", func(d map[string]any) { d["BorrowedAmount"] = "12,000.00"; d["TotalOwingAmount"] = "Rp 12.000" }, "TotalOwingAmount"},
		{"odd-empty-object", func(d map[string]any) { d["NerSlots"] = "" }, "NerSlots"},
		{"odd-wrong-type", func(d map[string]any) { d["CallTimes"] = "two" }, "CallTimes"},
		{"odd-year-zero", func(d map[string]any) { d["BorrowedDate"] = "0000-01-01" }, "BorrowedDate"},
		{"odd-transcript", func(d map[string]any) { d["AsrResult"] = []any{"hello", map[string]any{"text": "hi"}} }, "AsrResult[0]"},
		{"odd-long-summary", func(d map[string]any) { d["intention_description"] = strings.Repeat("<&>", 300) }, ""},
	}
	body := signed(t, func(_ map[string]any, d []any) []any {
		out := []any{}
		for _, tc := range cases {
			c := detailCopy(d, tc.callID)
			tc.edit(c)
			out = append(out, c)
		}
		return out
	})
	// What encoding/json cannot write: a lone surrogate escape, and \u0000 in a key.
	body = bytes.Replace(body, []byte("LONE-SURROGATE"), []byte(`Budi \ud83d`), 1)
	body = bytes.Replace(body, []byte("NUL-KEY"), []byte(`a\u0000b`), 1)

	if status, b := s.post("airudder", body, "application/json"); status != http.StatusOK || string(b) != "{}" {
		t.Fatalf("POST = %d %s, want 200 {}", status, b)
	}
	for _, tc := range cases {
		s.waitWorkflow("call/airudder/" + tc.callID)
		status, b := s.get(callPath(tc.callID))
		if status != http.StatusOK {
			t.Errorf("%s: GET = %d %s", tc.callID, status, b)
			continue
		}
		var got struct {
			Call       map[string]any
			ParseNotes []airudder.ParseNote `json:"parse_notes"`
		}
		mustUnmarshal(t, b, &got)
		fields := airudder.NoteFields(got.ParseNotes)
		if tc.note != "" && fields[tc.note] == "" {
			t.Errorf("%s: parse notes %+v, want one for %s", tc.callID, got.ParseNotes, tc.note)
		}
		if tc.note == "" && len(got.ParseNotes) > 0 {
			t.Errorf("%s: parse notes %+v, want none", tc.callID, got.ParseNotes)
		}
	}
	// The long case ID is stored whole, and its search attribute is cut with a hash: still findable.
	var rec struct{ Call struct{ CaseID string } }
	_, b := s.get(callPath("odd-long-case"))
	mustUnmarshal(t, b, &rec)
	if rec.Call.CaseID != longCaseID {
		t.Errorf("CaseID stored with %d bytes, want %d", len(rec.Call.CaseID), len(longCaseID))
	}
	s.listed(`CaseID = "`+payload.CutHashed(longCaseID, payload.SearchTextLimit)+`"`, 1)
	// The amount with a thousands separator became typed; the one with a currency did not.
	_, b = s.get(callPath("odd-amount"))
	var amounts struct {
		Call map[string]json.RawMessage
	}
	mustUnmarshal(t, b, &amounts)
	if string(amounts.Call["BorrowedAmount"]) != `"12000.00"` || string(amounts.Call["TotalOwingAmount"]) != "null" {
		t.Errorf("amounts = %s, %s", amounts.Call["BorrowedAmount"], amounts.Call["TotalOwingAmount"])
	}
}
