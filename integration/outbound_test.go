package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// Follow-ups stay outside unless the configuration says otherwise, on a system configured as serve and
// worker are (loopback not allowed). A rule whose url: reaches inside is refused when it is saved (422,
// naming the rule and the action); a version that holds one anyway (saved before URLs were checked) is
// planned, but its follow-up fails with the reason, nothing sent. A target on loopback fails likewise,
// unless its configuration says allow_private.
func TestFollowUpsDoNotReachInsideUnlessConfigured(t *testing.T) {
	t.Parallel()
	inside := newTarget(t, always(http.StatusOK)) // an admin port on the worker's machine
	crm := newTarget(t, always(http.StatusOK))
	helpdesk := newTarget(t, always(http.StatusOK))
	s := start(t, options{environ: []string{
		"RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK=false",
		"RUDDERHOOK_TARGET_CRM_URL=" + crm.URL + "/hooks",
		"RUDDERHOOK_TARGET_HELPDESK_URL=" + helpdesk.URL + "/tickets", "RUDDERHOOK_TARGET_HELPDESK_ALLOW_PRIVATE=true",
	}})
	doc := `rules:
  - id: needs-follow-up
    when: call.intention_description == "Needs Follow Up"
    actions:
      - {name: probe, type: webhook, url: '` + inside.URL + `/admin/s3cr3t'}
      - {name: crm-task, type: webhook, target: crm}
      - {name: ticket, type: webhook, target: helpdesk}
`
	status, body := s.admin(http.MethodPut, "/v1/rules", []byte(doc))
	var refusal struct {
		Error struct {
			Code     string
			Problems []rules.Problem
		}
	}
	mustUnmarshal(t, body, &refusal)
	const ruleURLs = "rule URLs may reach only public addresses (a configured target may allow private ones: allow_private)"
	if p := refusal.Error.Problems; status != http.StatusUnprocessableEntity || refusal.Error.Code != "invalid_rules" || len(p) != 1 ||
		p[0].Rule != "needs-follow-up" || p[0].Field != "actions[0]" || p[0].Message != "url: refused: 127.0.0.1 is a loopback address; "+ruleURLs {
		t.Fatalf("PUT rules whose url: is on loopback = %d %s", status, body)
	}

	// The same document, stored as a version saved before URLs were checked.
	set, err := rules.Compile([]byte(doc), rules.Options{Stored: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.store.SaveRuleSet(t.Context(), set.Digest, doc, store.RuleSetChange{Origin: "test", Author: "before the check"}); err != nil {
		t.Fatal(err)
	}
	if status, body := s.post("airudder", airudder.ExampleCallCompleted, "application/json"); status != http.StatusOK {
		t.Fatalf("POST = %d %s", status, body)
	}
	s.waitWorkflow("call/airudder/" + seedCallID)

	byAction := map[string]followUpView{}
	for _, fu := range s.followUpsOfSeed() {
		byAction[fu.Action] = fu
	}
	for action, want := range map[string]string{
		"probe":    "refused: 127.0.0.1 is a loopback address; " + ruleURLs,
		"crm-task": `refused: 127.0.0.1 is a loopback address; target "crm" may reach only public addresses unless its configuration says allow_private: true (RUDDERHOOK_TARGET_CRM_ALLOW_PRIVATE=true)`,
	} {
		fu := byAction[action]
		if fu.Status != "failed" || fu.Attempts != 1 || !strings.HasPrefix(fu.LastError, want) || strings.Contains(fu.LastError, "s3cr3t") {
			t.Errorf("%s: %+v\nwant failed after one attempt: %s", action, fu, want)
		}
	}
	if fu := byAction["ticket"]; fu.Status != "succeeded" {
		t.Errorf("ticket (a target with allow_private): %+v", fu)
	}
	if len(inside.received()) != 0 || len(crm.received()) != 0 || len(helpdesk.received()) != 1 {
		t.Errorf("requests: inside %d, crm %d (want none), helpdesk %d (want 1)", len(inside.received()), len(crm.received()), len(helpdesk.received()))
	}
}
