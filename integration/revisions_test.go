package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

type callView struct {
	Revision  int
	Call      struct{ Intention string }
	FollowUps []followUpView `json:"follow_ups"`
	Revisions struct {
		Count int
		List  []struct {
			Revision    int
			Digest      string
			ProcessedAt *time.Time `json:"processed_at"`
		}
	}
}

func (s *system) callView(key string) callView {
	s.t.Helper()
	status, body := s.get(callPath(key))
	if status != http.StatusOK {
		s.t.Fatalf("GET %s = %d %s", key, status, body)
	}
	var v callView
	mustUnmarshal(s.t, body, &v)
	return v
}

// withIntention is the seed body with a given intention, ended a moment ago (so that a follow-up's delay,
// which counts from the end of the call, is still to come), and optionally a text that makes the call
// larger than what travels inside Temporal payloads.
// revisionCallEnded is when the call of the revision tests ended: one time for the whole run, so that a
// body built again is byte for byte the same even when a minute turns between the two.
var revisionCallEnded = time.Now().UTC().Truncate(time.Minute)

func withIntention(t *testing.T, intention string, large bool) []byte {
	ended := revisionCallEnded
	return signed(t, func(_ map[string]any, d []any) []any {
		c := detailCopy(d, seedCallID)
		c["Intention"] = intention
		c["CallStartTime"] = ended.Add(-time.Minute).Format(time.RFC3339)
		c["CallEndTime"] = ended.Format(time.RFC3339)
		if large {
			c["Comments"] = randomText(200_000)
		}
		return []any{c}
	})
}

// revisionRules plan a webhook after the given delay for intention E, and one at once for PTP.
func revisionRules(delay string) string {
	return `
rules:
  - id: needs-follow-up
    when: call.intention == "E"
    actions:
      - {name: later, type: webhook, target: crm, delay: ` + delay + `}
  - id: promise-to-pay
    when: call.intention == "PTP"
    actions:
      - {name: thanks, type: webhook, target: crm}
`
}

// postWhileOpen posts the seed call with intention E, waits until its follow-up is planned (its workflow
// then waits for the follow-up's delay), and posts the corrected call with intention PTP, twice. It
// returns the open run's ID.
func (s *system) postWhileOpen(t *testing.T) string {
	t.Helper()
	if status, b := s.post("airudder", withIntention(t, "E", false), "application/json"); status != http.StatusOK {
		t.Fatalf("first POST = %d %s", status, b)
	}
	eventually(t, "the first follow-up to be planned", func() bool {
		status, b := s.get(callPath(seedCallID))
		var v callView
		if status == http.StatusOK {
			mustUnmarshal(t, b, &v)
		}
		return len(v.FollowUps) == 1
	})
	run := s.runID("call/airudder/" + seedCallID)
	corrected := withIntention(t, "PTP", false)
	for range 2 {
		if status, b := s.post("airudder", corrected, "application/json"); status != http.StatusOK || string(b) != "{}" {
			t.Fatalf("corrected POST = %d %s", status, b)
		}
	}
	return run
}

// A corrected redelivery that arrives while the call's workflow is still open (its follow-up waits an
// hour) is signalled to that run: stored as revision 2, shown as the call, and planned (the rule of the
// new intention), in the same run. The identical body again changes nothing.
func TestCorrectedRedeliveryReachesTheOpenRun(t *testing.T) {
	t.Parallel()
	crm := newTarget(t, always(http.StatusOK))
	s := withCRM(t, crm, revisionRules("1h"))
	id := "call/airudder/" + seedCallID
	run := s.postWhileOpen(t)
	eventually(t, "the corrected call's webhook", func() bool { return len(crm.received()) == 1 })
	v := s.callView(seedCallID)
	if v.Revision != 2 || v.Call.Intention != "PTP" || v.Revisions.Count != 2 || len(v.FollowUps) != 2 {
		t.Fatalf("call = revision %d, intention %s, %d revisions, %d follow-ups", v.Revision, v.Call.Intention, v.Revisions.Count, len(v.FollowUps))
	}
	for _, r := range v.Revisions.List {
		if r.ProcessedAt == nil || r.Digest == "" {
			t.Errorf("revision %+v not processed", r)
		}
	}
	s.handedOver()
	if r := s.runID(id); r != run {
		t.Errorf("run %s, want the open run %s to have taken the revision", r, run)
	}
	rules := []string{v.FollowUps[0].RuleID, v.FollowUps[1].RuleID}
	if !strings.Contains(strings.Join(rules, ","), "promise-to-pay") || !strings.Contains(strings.Join(rules, ","), "needs-follow-up") {
		t.Errorf("follow-ups of rules %v", rules)
	}
}

// A corrected redelivery of a call whose workflow has completed runs it again (a new run, same ID): the
// call shows revision 2. The identical body again starts nothing, for small and large calls alike.
func TestCorrectedRedeliveryOfAClosedCall(t *testing.T) {
	for _, large := range []bool{false, true} {
		name := "small"
		if large {
			name = "large"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := start(t, options{environ: []string{"RUDDERHOOK_MAX_BODY_BYTES=1048576"}})
			id := "call/airudder/" + seedCallID
			if status, b := s.post("airudder", withIntention(t, "E", large), "application/json"); status != http.StatusOK {
				t.Fatalf("first POST = %d %s", status, b)
			}
			s.waitWorkflow(id)
			first := s.runID(id)
			corrected := withIntention(t, "PTP", large)
			if status, b := s.post("airudder", corrected, "application/json"); status != http.StatusOK {
				t.Fatalf("corrected POST = %d %s", status, b)
			}
			s.waitWorkflow(id)
			second := s.runID(id)
			if second == first {
				t.Fatalf("the corrected delivery of a closed call started no run")
			}
			v := s.callView(seedCallID)
			if v.Revision != 2 || v.Call.Intention != "PTP" || v.Revisions.Count != 2 {
				t.Fatalf("call = revision %d, intention %s, %d revisions", v.Revision, v.Call.Intention, v.Revisions.Count)
			}
			for _, body := range [][]byte{corrected, withIntention(t, "E", large)} { // both were processed
				if status, b := s.post("airudder", body, "application/json"); status != http.StatusOK {
					t.Fatalf("repeated POST = %d %s", status, b)
				}
			}
			s.handedOver() // the relay found both processed, or started a run: either is in Temporal now
			if r := s.runID(id); r != second {
				t.Errorf("identical redeliveries started run %s after %s", r, second)
			}
			if v := s.callView(seedCallID); v.Revisions.Count != 2 || v.Revision != 2 {
				t.Errorf("after identical redeliveries: revision %d of %d", v.Revision, v.Revisions.Count)
			}
		})
	}
}
