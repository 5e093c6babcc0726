package workflows_test

import (
	"context"
	"net/http"
	"slices"
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

// recallFromTemplate is a rule that re-calls the seed call's callee in a new instance of template 7.
const recallFromTemplate = `
rules:
  - id: ptp
    when: 'true'
    actions: [{name: remind, type: airudder_recall, workflow_template_id: 7, instance_name: "PTP {{ .call.case_id }}", auto_finish: 1}]
`

// Instance names are unique (a suffix of the follow-up's key); should Airudder say the name is taken
// all the same (another system made one like it), the instance is asked for once more under another
// suffix, and the callee goes into the instance that was made.
func TestRecallAsksForAnotherNameWhenAirudderSaysItIsTaken(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, recallFromTemplate)
	seed := seedInput(t)
	key := rules.FollowUpKey(workflows.SubjectWorkflowID(seed.Subject), "ptp", "remind")
	taken := (&rules.RecallRequest{Name: "PTP 7777777.0"}).InstanceName(key, 0)
	if _, err := fa.Client().CreateInstance(context.Background(), airudder.CreateInstanceRequest{TemplateID: 7, Name: taken,
		EndTime: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	env := newFollowUpEnv(t, st, "", fa.URL)
	env.SetStartTime(time.Now())
	if res := run(t, env, seed); res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Fatalf("result %+v", res.FollowUps)
	}
	insts := fa.Instances()
	if len(insts) != 2 || fa.Count(airudder.CreateInstancePath) != 3 || insts[1].Name == taken || len(insts[0].Callees) != 0 ||
		!slices.Equal(insts[1].Callees, []string{"+86xxxxxxxx721"}) || insts[1].AutoFinish != airudder.AutoFinishYes {
		t.Errorf("instances %+v after %d createinstance requests", insts, fa.Count(airudder.CreateInstancePath))
	}
	if fu := followUpOf(t, st); fu.AirudderWorkflowID != insts[1].WorkflowID {
		t.Errorf("follow-up keeps %q, want %q", fu.AirudderWorkflowID, insts[1].WorkflowID)
	}
}

// Taken twice, the name is not asked for a third time: the follow-up fails, and says why.
func TestRecallFailsWhenEveryNameIsTaken(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, recallFromTemplate)
	fa.Inject(airudder.CreateInstancePath, airuddertest.Always(airuddertest.Answer(http.StatusOK, `{"code":10508,"message":"Duplicate task name"}`)))
	env := newFollowUpEnv(t, st, "", fa.URL)
	env.SetStartTime(time.Now())
	res := run(t, env, seedInput(t))
	if fu := followUpOf(t, st); res.FollowUps[rules.StatusFailed] != 1 || fa.Count(airudder.CreateInstancePath) != 2 ||
		!strings.Contains(fu.LastError, "Duplicate task name") || len(fa.Uploads()) != 0 {
		t.Errorf("result %+v after %d requests, last error %q", res.FollowUps, fa.Count(airudder.CreateInstancePath), fu.LastError)
	}
}

// The instance is kept on the follow-up before the callee is added: when adding the callee fails for a
// while (Airudder busy), the next attempt adds it to that instance instead of making another.
func TestRecallAddsTheCalleeToTheInstanceAnEarlierAttemptMade(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, recallFromTemplate)
	fa.Inject(airudder.UploadDetailsPath, airuddertest.Once(airuddertest.Answer(http.StatusTooManyRequests, `{"code":429,"message":"slow down"}`)))
	env := newFollowUpEnv(t, st, "", fa.URL)
	env.SetStartTime(time.Now())
	if res := run(t, env, seedInput(t)); res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Fatalf("result %+v", res.FollowUps)
	}
	insts := fa.Instances()
	if len(insts) != 1 || fa.Count(airudder.UploadDetailsPath) != 2 || !slices.Equal(insts[0].Callees, []string{"+86xxxxxxxx721"}) {
		t.Errorf("instances %+v after %d uploads: want one instance, its callee added on the second attempt", insts, fa.Count(airudder.UploadDetailsPath))
	}
}
