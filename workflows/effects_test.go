package workflows_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

var jakarta, _ = time.LoadLocation("Asia/Jakarta")

// followUpOf is the one follow-up of the seed call.
func followUpOf(t *testing.T, st *store.Store) store.FollowUpRecord {
	t.Helper()
	fus := seedFollowUps(t, st)
	if len(fus) != 1 {
		t.Fatalf("follow-ups = %+v", fus)
	}
	return fus[0]
}

// seedFollowUps are the follow-ups of the seed call.
func seedFollowUps(t *testing.T, st *store.Store) []store.FollowUpRecord {
	t.Helper()
	call, err := st.GetCall(context.Background(), "airudder", seedInput(t).Call.Key)
	if err != nil {
		t.Fatal(err)
	}
	fus, err := st.FollowUpsOf(context.Background(), call.SubjectID)
	if err != nil {
		t.Fatal(err)
	}
	return fus
}

// closingTime is Friday 19:59:55 in Jakarta, five seconds before an 08:00–20:00 window closes.
var closingTime = time.Date(2024, 3, 15, 19, 59, 55, 0, jakarta)

// busyAtClosingTime runs a re-call with the given action settings that Airudder refuses once as busy
// (HTTP 429: certainly not carried out, worth retrying) at closingTime.
func busyAtClosingTime(t *testing.T, settings string) (*store.Store, *airuddertest.Server, *followUpEnv) {
	t.Helper()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, "time_zone: Asia/Jakarta\nrules:\n  - id: unreachable\n    when: 'true'\n    actions:\n"+
		"      - {name: recall, type: airudder_recall, workflow_id: wf-recall, "+settings+"}\n")
	fa.Inject(airudder.UploadDetailsPath, airuddertest.Once(airuddertest.Answer(http.StatusTooManyRequests, `{"code":429,"message":"busy"}`)))
	in := seedInput(t)
	end := closingTime.Add(-time.Minute)
	in.Call.Call.CallEndTime, in.Call.Call.CallStartTime = &end, &end
	env := newFollowUpEnv(t, st, "", fa.URL)
	env.SetStartTime(closingTime)
	if res := run(t, env, in); res.FollowUps["succeeded"] != 1 || fa.Count(airudder.UploadDetailsPath) != 2 || len(fa.Uploads()) != 1 {
		t.Fatalf("result %+v, %d requests, uploads %+v", res.FollowUps, fa.Count(airudder.UploadDetailsPath), fa.Uploads())
	}
	return st, fa, env
}

// A re-call that fails retryably just before the calling window closes is retried when it opens again
// the next allowed day, not ten seconds later in the night.
func TestRetryOfARecallWaitsForTheCallingWindow(t *testing.T) {
	t.Parallel()
	// The window is on weekdays, so after Friday evening the next opening is Monday.
	_, _, env := busyAtClosingTime(t, `window: {start: "08:00", end: "20:00", days: [mon, tue, wed, thu, fri]}`)
	monday := time.Date(2024, 3, 18, 8, 0, 0, 0, jakarta)
	if len(env.attempts) != 2 || env.attempts[1].Before(monday) {
		t.Errorf("attempts at %v: want the retry at or after %v", env.attempts, monday)
	}
}

// A retry that falls on another day takes a place under that day's cap.
func TestRetryOnAnotherDayCountsAgainstThatDaysCap(t *testing.T) {
	t.Parallel()
	st, _, _ := busyAtClosingTime(t, `window: {start: "08:00", end: "20:00"}, max_per_day: 2`)
	if fu := followUpOf(t, st); fu.SlotDay == nil || fu.SlotDay.Format(time.DateOnly) != "2024-03-16" {
		t.Errorf("slot day = %v, want the day of the retry, 2024-03-16", fu.SlotDay)
	}
}

// A re-call whose outcome is unknown is not repeated: it waits as needs_review until Airudder, asked
// where the callee went, shows that it took effect (succeeded), or shows nothing (it stays for an
// operator, with what was found).
func TestRecallOfUnknownOutcomeIsNotRepeated(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		fault airuddertest.Fault
		want  rules.Status
		error string
	}{
		"5xx after carrying it out":        {airuddertest.Fault{Status: http.StatusBadGateway, Body: `{}`, Effect: true}, rules.StatusSucceeded, "settled by asking Airudder"},
		"connection cut after sending":     {airuddertest.Fault{Cut: true, Effect: true}, rules.StatusSucceeded, "settled by asking Airudder"},
		"answer cut off after carrying it": {airuddertest.Fault{Truncate: true, Effect: true}, rules.StatusSucceeded, "settled by asking Airudder"},
		"no answer before the timeout":     {airuddertest.Fault{Hang: true, Effect: true}, rules.StatusSucceeded, "settled by asking Airudder"},
		"5xx without carrying it out":      {airuddertest.Fault{Status: http.StatusBadGateway, Body: `{}`}, rules.StatusNeedsReview, "the callee is in no workflow"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := store.New(storetest.DB(t))
			fa := airuddertest.New(t)
			putRules(t, st, "rules:\n  - id: r\n    when: 'true'\n    actions: [{name: recall, type: airudder_recall, workflow_id: wf-recall}]\n")
			fa.Inject(airudder.UploadDetailsPath, airuddertest.Once(c.fault)) // a repeat would succeed: and call the person again
			env := newFollowUpEnv(t, st, "", fa.URL)
			hc := fa.HTTPClient()
			hc.Timeout = 300 * time.Millisecond
			env.acts.Airudder = airudder.NewClient(fa.URL, airuddertest.AppKey, airuddertest.AppSecret, hc, airudder.WithLocation(time.UTC))
			res := run(t, env, seedInput(t))

			if res.FollowUps[c.want] != 1 || fa.Count(airudder.UploadDetailsPath) != 1 {
				t.Fatalf("result %+v after %d requests (%d carried out): want %s, and a person never called twice",
					res.FollowUps, fa.Count(airudder.UploadDetailsPath), len(fa.Uploads()), c.want)
			}
			fu := followUpOf(t, st)
			if fu.Status != c.want || fu.Attempts != 1 || !strings.Contains(fu.LastError, c.error) || fu.FinishedAt == nil {
				t.Errorf("follow-up = %+v", fu)
			}
			if c.want == rules.StatusNeedsReview && !strings.Contains(fu.LastError, "outcome unknown") {
				t.Errorf("the attempt's own error is gone: %q", fu.LastError)
			}
		})
	}
}

// A rule may opt in to repeating an attempt of unknown outcome; a cancel repeats by default.
func TestOnUnknownRetryRepeatsTheAttempt(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, `
rules:
  - id: r
    when: 'true'
    actions:
      - {name: recall, type: airudder_recall, workflow_id: wf-recall, on_unknown: retry}
      - {name: stop, type: airudder_cancel_contact}
`)
	effect := airuddertest.Once(airuddertest.Fault{Status: http.StatusBadGateway, Effect: true})
	fa.Inject(airudder.UploadDetailsPath, effect)
	fa.Inject(fa.CancelContactPath(), effect)
	res := run(t, newFollowUpEnv(t, st, "", fa.URL), seedInput(t))
	if res.FollowUps[rules.StatusSucceeded] != 2 {
		t.Fatalf("result %+v", res.FollowUps)
	}
	if fa.Count(airudder.UploadDetailsPath) != 2 || len(fa.Uploads()) != 2 {
		t.Errorf("re-call: %d requests, %d carried out; on_unknown: retry repeats", fa.Count(airudder.UploadDetailsPath), len(fa.Uploads()))
	}
	in := seedInput(t)
	want := []airuddertest.Cancellation{{Family: "workflow", TaskID: in.Call.Task.TaskID, Number: in.Call.Call.CalleeNumber}}
	if got := fa.Cancellations(); fa.Count(fa.CancelContactPath()) != 2 || len(got) != 1 || got[0] != want[0] {
		t.Errorf("cancel: %d requests, cancellations %+v, want %+v", fa.Count(fa.CancelContactPath()), got, want)
	}
}

// A webhook that reaches a person (an SMS gateway) is at most once too; one that does not is retried.
func TestWebhookThatReachesAPersonIsAtMostOnce(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	sms := newFake(t, func(n int, _ *http.Request, _ []byte) (int, string) { return http.StatusBadGateway, "upstream timeout" })
	putRules(t, st, "rules:\n  - id: r\n    when: 'true'\n    actions: [{name: sms, type: webhook, target: crm, reaches_person: true}]\n")
	res := run(t, newFollowUpEnv(t, st, sms.URL, ""), seedInput(t))
	if res.FollowUps[rules.StatusNeedsReview] != 1 || sms.count() != 1 {
		t.Errorf("result %+v after %d requests", res.FollowUps, sms.count())
	}
}

// createinstance is sent as Airudder documents it: an integer template, an end time at the end of the
// calling window in the account's zone; the instance's workflow_id is kept; a refused token is renewed.
func TestRecallCreatesAnInstanceAsDocumented(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, `
time_zone: Asia/Jakarta
rules:
  - id: ptp
    when: 'true'
    actions:
      - {name: reminder, type: airudder_recall, workflow_template_id: 4021, instance_name: "PTP {{ .call.case_id }}", window: {start: "08:00", end: "20:00"}}
`)
	env := newFollowUpEnv(t, st, "", fa.URL)
	// The worker holds a token that Airudder has since revoked: the call is refused with 401, the token
	// renewed, and the call made once.
	env.acts.Airudder = fa.Client()
	if _, err := env.acts.Airudder.UploadDetails(context.Background(), "wf-warm-up", nil); err != nil {
		t.Fatal(err)
	}
	fa.Expire()
	// The test's activities run on the real clock: the attempt is now, and the window that contains it
	// (or opens next) ends at 20:00 Jakarta time.
	env.SetStartTime(time.Now())
	res := run(t, env, seedInput(t))
	if res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Fatalf("result %+v", res.FollowUps)
	}
	// The instance is created (named by instance_name and the follow-up's own suffix), then the callee
	// added to it.
	insts := fa.Instances()
	if len(insts) != 1 || insts[0].TemplateID != 4021 || !strings.HasPrefix(insts[0].Name, "PTP 7777777.0 #") ||
		!slices.Equal(insts[0].Callees, []string{"+86xxxxxxxx721"}) || fa.Count(airudder.WorkflowAuthPath) != 2 {
		t.Fatalf("instances %+v, %d token requests", insts, fa.Count(airudder.WorkflowAuthPath))
	}
	endTime, err := time.ParseInLocation(airudder.TimeLayout, insts[0].EndTime, jakarta)
	if now := time.Now(); err != nil || endTime.Format("15:04:05") != "20:00:00" || !endTime.After(now) || endTime.Sub(now) > 36*time.Hour {
		t.Errorf("end_time = %q, want the end of the calling window, 20:00 in the account's zone (Asia/Jakarta)", insts[0].EndTime)
	}
	if fu := followUpOf(t, st); fu.AirudderWorkflowID != insts[0].WorkflowID || fu.Status != rules.StatusSucceeded {
		t.Errorf("follow-up keeps airudder_workflow_id %q, want %q", fu.AirudderWorkflowID, insts[0].WorkflowID)
	}
}

// Airudder refusing the request in its envelope fails the follow-up at once.
func TestRecallRefusedInTheEnvelopeFailsAtOnce(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, "rules:\n  - id: r\n    when: 'true'\n    actions: [{name: reminder, type: airudder_recall, workflow_template_id: 99}]\n")
	fa.Inject(airudder.CreateInstancePath, airuddertest.Always(airuddertest.Answer(http.StatusOK, `{"code":10001,"message":"template does not exist"}`)))
	res := run(t, newFollowUpEnv(t, st, "", fa.URL), seedInput(t))
	fu := followUpOf(t, st)
	if res.FollowUps[rules.StatusFailed] != 1 || fa.Count(airudder.CreateInstancePath) != 1 || !strings.Contains(fu.LastError, "template does not exist") {
		t.Errorf("result %+v after %d requests, last error %q", res.FollowUps, fa.Count(airudder.CreateInstancePath), fu.LastError)
	}
}

// A cancel in a predictive-dialer task goes to the PDS family.
func TestCancelContactInAPredictiveDialerTask(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	fa := airuddertest.New(t)
	putRules(t, st, "rules:\n  - id: paid\n    when: 'true'\n    actions: [{name: stop, type: airudder_cancel_contact, api: pds, task_id: T-1, callee: '+6281234567'}]\n")
	env := newFollowUpEnv(t, st, "", fa.URL)
	env.acts.Airudder = fa.Client()
	if res := run(t, env, seedInput(t)); res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Fatalf("result %+v", res.FollowUps)
	}
	if got := fa.Cancellations(); len(got) != 1 || got[0] != (airuddertest.Cancellation{Family: "pds", TaskID: "T-1", Number: "+6281234567"}) {
		t.Errorf("cancellations = %+v", got)
	}
}

// A webhook URL's secret path reaches neither last_error nor the worker's logs.
func TestSecretURLsStayOutOfErrorsAndLogs(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	const secret = "T0001/B0002/s3cr3tXYZ"
	hook := newFake(t, func(int, *http.Request, []byte) (int, string) { return http.StatusOK, "ok" })
	first := true
	inner := hook.Config.Handler
	hook.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first { // the first request loses its connection: net/http's error names the whole URL
			first = false
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		}
		inner.ServeHTTP(w, r)
	})
	putRules(t, st, "rules:\n  - id: r\n    when: 'true'\n    actions: [{name: team, type: notify, url: '"+hook.URL+"/services/"+secret+"', text: hi}]\n")
	env := newFollowUpEnv(t, st, "", "")
	var logs bytes.Buffer
	env.acts.Log = slog.New(slog.NewTextHandler(&logs, nil))
	if res := run(t, env, seedInput(t)); res.FollowUps[rules.StatusSucceeded] != 1 {
		t.Fatalf("result %+v", res.FollowUps)
	}
	fu := followUpOf(t, st)
	if fu.LastError == "" || strings.Contains(fu.LastError, "s3cr3t") || strings.Contains(logs.String(), "s3cr3t") {
		t.Errorf("the secret leaked:\nlast_error: %s\nlogs: %s", fu.LastError, logs.String())
	}
	if !strings.Contains(fu.LastError, "/…") {
		t.Errorf("last_error %q does not say where it went", fu.LastError)
	}
}
