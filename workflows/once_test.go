package workflows_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
	"github.com/rudderhook/rudderhook/workflows"
)

// pdsState is a PDS agent's state of call c-1 at second s past the example's timestamp, as received.
func pdsState(t *testing.T, state string, s int64) workflows.SubjectInput {
	t.Helper()
	at := time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)
	body := strings.NewReplacer(`"State": "HANGUP"`, `"State": "`+state+`"`,
		`"1710127230000"`, strconv.FormatInt(1710127230000+s*1000, 10)).Replace(string(airudder.ExamplePDSAgentStatus))
	ev, err := airudder.ReadExampleEvent(airudder.KindPDS, []byte(body), "airudder", at)
	if err != nil {
		t.Fatal(err)
	}
	return workflows.NewSubjectInput(airudder.EventSubject(ev), false)
}

// A rule on PDS agent states re-calls a person once per call, whichever of the call's states match and
// in whatever order they arrive: the second state's workflow finds the follow-up planned for the call
// and leaves it to the first.
func TestRulesOnACallsStatesReachThePersonOnce(t *testing.T) {
	t.Parallel()
	for _, order := range [][]string{{"HANGUP", "TALKRESULT"}, {"TALKRESULT", "HANGUP"}} {
		t.Run(strings.Join(order, "-then-"), func(t *testing.T) {
			t.Parallel()
			st := store.New(storetest.DB(t))
			fa := airuddertest.New(t)
			putRules(t, st, `
rules:
  - id: ptp
    on: pds.agent_status
    when: event.state in ["HANGUP", "TALKRESULT"]
    actions: [{name: remind, type: airudder_recall, workflow_id: wf-ptp, callee: "{{ .event.callee_number }}"}]
`)
			seconds := map[string]int64{"HANGUP": 0, "TALKRESULT": 60}
			var results []*workflows.SubjectResult
			for _, state := range order {
				results = append(results, run(t, newFollowUpEnv(t, st, "", fa.URL), pdsState(t, state, seconds[state])))
			}
			if ups := fa.Uploads(); len(ups) != 1 {
				t.Errorf("uploads %+v, want the person called once", ups)
			}
			if results[0].FollowUps[rules.StatusSucceeded] != 1 || len(results[1].FollowUps) != 0 {
				t.Errorf("first run %+v, second %+v: want the first to carry the follow-up out", results[0].FollowUps, results[1].FollowUps)
			}
		})
	}
}

// An agent's state that happened before one already stored about its call plans nothing when it
// arrives late, even on a rule that only it matches.
func TestALateOlderStateOfACallPlansNothing(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, `
rules:
  - id: hung-up
    on: pds.agent_status
    when: event.state == "HANGUP"
    actions: [{name: remind, type: airudder_recall, workflow_id: wf-ptp, callee: "{{ .event.callee_number }}"}]
`)
	run(t, newFollowUpEnv(t, st, "", fa.URL), pdsState(t, "TALKRESULT", 60))
	res := run(t, newFollowUpEnv(t, st, "", fa.URL), pdsState(t, "HANGUP", 0))
	if n := len(fa.Uploads()); n != 0 || len(res.Matched) != 0 || len(res.Revisions) != 1 {
		t.Errorf("%d uploads, matched %v, revisions %v: want the late HANGUP stored and not planned", n, res.Matched, res.Revisions)
	}
}
