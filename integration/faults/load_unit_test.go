package faults

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/workflows"
)

// TestLoadIsWhatTheSuiteCounts checks the suite's own load, without any process: the counts of every
// scenario rest on it. It runs with `go test ./...`.
func TestLoadIsWhatTheSuiteCounts(t *testing.T) {
	lb, err := newLoadBuilder("fxtest")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := lb.plain(8)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{"RUDDERHOOK_SOURCE_AIRUDDER_KEYS=" + signKey}, "")
	if err != nil {
		t.Fatal(err)
	}
	src := cfg.Sources[source]
	read := func(cb *callback) *airudder.CallCompleted {
		t.Helper()
		cc, err := ingest.ReadCallCompleted(cb.body, src, ingest.VerifySign)
		if err != nil {
			t.Fatalf("a %s callback is not what the receiver reads: %v", cb.kind, err)
		}
		return cc
	}
	keys := map[string]bool{}
	for i, cb := range plain {
		cc := read(cb)
		if want := []int{3, 2, 1, 1}[i%4]; len(cc.Details) != want || len(cb.calls) != want {
			t.Errorf("callback %d: %d details, %d calls recorded; want %d", i, len(cc.Details), len(cb.calls), want)
		}
		for j, c := range cb.calls {
			if cc.Details[j].CallID != c.key || keys[c.key] {
				t.Errorf("callback %d call %d: key %q (CallID %q), seen before: %v", i, j, c.key, cc.Details[j].CallID, keys[c.key])
			}
			keys[c.key] = true
			wf := workflows.CallWorkflowID(source, c.key)
			want := []string{rules.FollowUpKey(wf, "every-call", "crm-update")}
			if cc.Details[j].IntentionDescription == "Needs Follow Up" {
				want = append(want, rules.FollowUpKey(wf, "needs-follow-up", "agent-task"))
			}
			if strings.Join(c.followUps, ",") != strings.Join(want, ",") {
				t.Errorf("callback %d call %d: follow-ups %v, want %v", i, j, c.followUps, want)
			}
		}
	}
	if large := read(plain[7]).Received(source, time.Now())[0]; !large.Large() {
		t.Error("callback 7 should carry a call too large for a workflow's input")
	}

	odd, err := lb.odd()
	if err != nil {
		t.Fatal(err)
	}
	for _, cb := range odd {
		want := map[string]string{kindNUL: `WILL\u0000SMITH`, kindSurrogate: `WILL SMITH \ud83d"`, kindUnparsable: `"CallTimes":"2"`}[cb.kind]
		if !bytes.Contains(cb.body, []byte(want)) {
			t.Errorf("a %s callback lacks %s", cb.kind, want)
		}
		var env struct{ Details []struct{ CaseID string } }
		if err := json.Unmarshal(cb.body, &env); err != nil || len(env.Details) != 1 {
			t.Fatalf("a %s callback is not one call in JSON: %v", cb.kind, err)
		}
		if n := len(env.Details[0].CaseID); cb.kind == kindLongCaseID && n <= 2048 {
			t.Errorf("CaseID of %d bytes is within Temporal's limit", n)
		}
	}
	if all := interleave(plain, odd); len(all) != len(plain)+len(odd) {
		t.Errorf("interleave kept %d of %d", len(all), len(plain)+len(odd))
	}

	for _, cb := range plain {
		cb.acked = true
	}
	again, err := redeliveries(plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[0].kind != kindRedelivery || again[1].kind != kindCorrection {
		t.Fatalf("redeliveries of 8 = %d (%v)", len(again), again)
	}
	if !bytes.Equal(again[0].body, plain[3].body) {
		t.Error("an identical redelivery differs from the original")
	}
	corrected := read(again[1])
	if corrected.TaskID != read(plain[5]).TaskID || corrected.Details[0].CalleeName != again[1].latestCallee {
		t.Errorf("correction: task %s, callee %q", corrected.TaskID, corrected.Details[0].CalleeName)
	}
}
