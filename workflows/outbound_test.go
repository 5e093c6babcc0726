package workflows_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/airudder/airuddertest"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// followUpsByAction are the seed call's follow-ups, by action name.
func followUpsByAction(t *testing.T, st *store.Store) map[string]store.FollowUpRecord {
	t.Helper()
	out := map[string]store.FollowUpRecord{}
	for _, fu := range seedFollowUps(t, st) {
		out[fu.Action] = fu
	}
	return out
}

// A rule whose url: reaches inside (saved before URLs were checked, or under dev) is not called by a
// worker whose policy refuses it: the dialer refuses the address, the name localhost is refused before
// DNS, and each follow-up fails at its first attempt with the reason, the path of its URL kept out of it.
func TestRuleURLsThatReachInsideAreRefusedAndNothingIsSent(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	inside := newFake(t, func(int, *http.Request, []byte) (int, string) { return http.StatusOK, "admin" })
	_, port, _ := net.SplitHostPort(inside.Listener.Addr().String())
	putRules(t, st, `
rules:
  - id: inside
    when: 'true'
    actions:
      - {name: probe, type: webhook, url: '`+inside.URL+`/admin/s3cr3t'}
      - {name: by-name, type: notify, url: 'http://localhost:`+port+`/x', text: hi}
`)
	env := newFollowUpEnv(t, st, "", "")
	env.acts.RuleURLs = egress.Policy{} // what serve and worker have unless the configuration says otherwise
	res := run(t, env, seedInput(t))

	if res.FollowUps[rules.StatusFailed] != 2 || inside.count() != 0 {
		t.Fatalf("result %+v; the loopback server got %d requests, want none", res.FollowUps, inside.count())
	}
	const limits = "; rule URLs may reach only public addresses (a configured target may allow private ones: allow_private)"
	fus := followUpsByAction(t, st)
	for action, want := range map[string]string{
		"probe":   "refused: 127.0.0.1 is a loopback address" + limits,
		"by-name": "refused: localhost names a loopback address" + limits,
	} {
		fu := fus[action]
		if fu.Status != rules.StatusFailed || fu.Attempts != 1 || !strings.HasPrefix(fu.LastError, want) {
			t.Errorf("%s: %s after %d attempts, last_error %q; want failed after 1: %q", action, fu.Status, fu.Attempts, fu.LastError, want)
		}
		if strings.Contains(fu.LastError, "s3cr3t") {
			t.Errorf("%s: last_error repeats the URL's path: %s", action, fu.LastError)
		}
	}
}

// A configured target reaches inside only when its configuration says allow_private; Airudder's API,
// whose base URL the operator configured, is reached wherever it is.
func TestTargetsReachInsideOnlyWithAllowPrivate(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.DB(t))
	crm := newFake(t, func(int, *http.Request, []byte) (int, string) { return http.StatusOK, "{}" })
	helpdesk := newFake(t, func(int, *http.Request, []byte) (int, string) { return http.StatusOK, "{}" })
	fa := airuddertest.New(t)
	putRules(t, st, `
rules:
  - id: nfu
    when: 'true'
    actions:
      - {name: crm-task, type: webhook, target: crm}
      - {name: ticket, type: webhook, target: helpdesk}
      - {name: recall, type: airudder_recall, workflow_id: wf-recall}
`)
	env := newFollowUpEnv(t, st, "", fa.URL)
	env.acts.RuleURLs = egress.Policy{}
	env.acts.Targets = map[string]*config.Target{
		"crm":      {Name: "crm", URL: crm.URL + "/hooks"},
		"helpdesk": {Name: "helpdesk", URL: helpdesk.URL + "/tickets", AllowPrivate: true},
	}
	res := run(t, env, seedInput(t))

	fus := followUpsByAction(t, st)
	want := `refused: 127.0.0.1 is a loopback address; target "crm" may reach only public addresses unless its configuration says allow_private: true (RUDDERHOOK_TARGET_CRM_ALLOW_PRIVATE=true)`
	if fu := fus["crm-task"]; fu.Status != rules.StatusFailed || fu.Attempts != 1 || !strings.HasPrefix(fu.LastError, want) || crm.count() != 0 {
		t.Errorf("crm-task: %s after %d attempts, last_error %q, %d requests; want failed after 1, none sent: %q",
			fu.Status, fu.Attempts, fu.LastError, crm.count(), want)
	}
	if fu := fus["ticket"]; fu.Status != rules.StatusSucceeded || helpdesk.count() != 1 {
		t.Errorf("ticket (allow_private): %s, %q, %d requests", fu.Status, fu.LastError, helpdesk.count())
	}
	if fu := fus["recall"]; fu.Status != rules.StatusSucceeded || len(fa.Uploads()) != 1 {
		t.Errorf("recall through Airudder at %s: %s, %q", fa.URL, fu.Status, fu.LastError)
	}
	if res.FollowUps[rules.StatusSucceeded] != 2 {
		t.Errorf("result %+v", res.FollowUps)
	}
}
