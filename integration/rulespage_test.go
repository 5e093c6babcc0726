package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"

	"github.com/rudderhook/rudderhook/ui"
)

const (
	anaToken = "rh_ana-signs-in-to-the-rules-page-0123"
	vicToken = "rh_vic-only-looks-at-the-rules-page-0123"
)

// pageRules are a collections team's rules: a reminder the day before a promised payment, and a CRM task
// for a call that needs a follow-up.
const pageRules = `time_zone: Asia/Jakarta
rules:
  - id: promise-to-pay-reminder
    description: Promise to pay → a reminder the day before the due date.
    when: call.intention_description == "Promise To Pay" && has(call.due_date)
    actions:
      - name: reminder
        type: notify
        target: team_channel
        text: "Remind case {{ .call.case_id }} to pay {{ .call.total_owing_amount }}"
        at: {date: due_date, days_before: 1, time: "09:00"}
        window: {start: "08:00", end: "20:00"}
  - id: needs-follow-up
    description: Needs follow-up → an agent task in the CRM.
    when: call.intention_description == "Needs Follow Up"
    actions:
      - name: agent-task
        type: webhook
        target: crm
`

// TestRulesPageInABrowser is a collections lead at work in a real browser, against the whole system: she
// signs in, reads the rules in force and what they did this week, moves the reminder from 09:00 to
// 10:00 in the form (meeting the compiler's objection to a misspelt time on the way), sees what the
// change would have done to this week's calls, switches it on with a reason, finds it in the history,
// and restores the version before. A viewer can look but not switch on.
func TestRulesPageInABrowser(t *testing.T) {
	b := newBrowser(t)
	crm, team := newTarget(t, always(http.StatusOK)), newTarget(t, always(http.StatusOK))
	s := start(t, options{environ: []string{
		"RUDDERHOOK_TARGET_CRM_URL=" + crm.URL, "RUDDERHOOK_TARGET_TEAM_CHANNEL_URL=" + team.URL,
		"RUDDERHOOK_USERS=Ana:editor:" + ui.HashToken(anaToken) + ",Vic:viewer:" + ui.HashToken(vicToken),
		"RUDDERHOOK_SESSION_KEY=" + strings.Repeat("s", 32),
	}})
	put, err := http.NewRequest(http.MethodPut, s.http.URL+"/v1/rules", strings.NewReader(pageRules))
	if err != nil {
		t.Fatal(err)
	}
	put.Header.Set("Authorization", "Bearer "+adminToken)
	put.Header.Set("Content-Type", "application/yaml")
	put.Header.Set("X-Rudderhook-Comment", "The collections team's first rules")
	if status, body := s.do(put); status != http.StatusOK {
		t.Fatalf("PUT /v1/rules = %d %s", status, body)
	}

	// This week's calls: three promises with a due date ahead, one whose reminder time had passed, and
	// two calls that need a follow-up.
	now := time.Now().UTC()
	seeds := []struct{ id, intention, due string }{
		{"ptp-1", "Promise To Pay", now.AddDate(0, 0, 3).Format(time.DateOnly)},
		{"ptp-2", "Promise To Pay", now.AddDate(0, 0, 4).Format(time.DateOnly)},
		{"ptp-3", "Promise To Pay", now.AddDate(0, 0, 5).Format(time.DateOnly)},
		{"ptp-late", "Promise To Pay", now.AddDate(0, 0, -3).Format(time.DateOnly)},
		{"nfu-1", "Needs Follow Up", ""},
		{"nfu-2", "Needs Follow Up", ""},
	}
	for _, c := range seeds {
		body := signed(t, func(_ map[string]any, details []any) []any {
			d := detailCopy(details, c.id)
			d["intention_description"], d["DueDate"] = c.intention, c.due
			return []any{d}
		})
		if status, resp := s.post("airudder", body, "application/json"); status != http.StatusOK {
			t.Fatalf("POST %s = %d %s", c.id, status, resp)
		}
	}
	s.waitRows(`SELECT count(*) FROM follow_ups`, 6)
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE rule_id = 'needs-follow-up' AND status = 'succeeded'`, 2)
	s.waitRows(`SELECT count(*) FROM follow_ups WHERE rule_id = 'promise-to-pay-reminder' AND status = 'scheduled'`, 3)

	// 1. Ana signs in and reads the rules in force.
	b.do("open the sign-in page", cdp.Navigate(s.http.URL+"/ui/"), cdp.WaitVisible(cdp.CSS("#token")))
	b.screenshot("sign-in")
	b.typeInto("#token", anaToken)
	b.do("sign in", cdp.Click(cdp.CSS(`#login-form button[type=submit]`)), cdp.WaitVisible(cdp.CSS("#version-line")))
	ptp := "#rule-promise-to-pay-reminder "
	if got := b.text(ptp + ".sentence"); !strings.Contains(got, "When the intention is Promise To Pay and the call has a due date → message team_channel the day before the due date at 09:00, between 08:00 and 20:00") {
		t.Errorf("the reminder reads %q", got)
	}
	for css, want := range map[string]string{
		ptp + "dd.calls": "4", ptp + "dd.follow-ups": "4", ptp + "dd.status-scheduled": "3", ptp + "dd.status-skipped": "1",
		"#rule-needs-follow-up dd.calls": "2", "#rule-needs-follow-up dd.status-succeeded": "2",
	} {
		if got := b.text(css); got != want {
			t.Errorf("%s = %q, want %q", css, got, want)
		}
	}
	if got := b.text("#rule-needs-follow-up ul.actions"); !strings.Contains(got, "target crm") || strings.Contains(got, crm.URL) {
		t.Errorf("the CRM action shows %q: the target by name, never its URL", got)
	}
	b.screenshot("rules-in-force")

	// 2. She changes the reminder's time in the form; a misspelt time is refused beside the field.
	b.do("open the editor", cdp.Navigate(s.http.URL+"/ui/edit"))
	at := `[data-path="rules[0].actions[0].at.time"]`
	b.typeInto(at, "10:0")
	problem := `.problem[data-for="rules[0].actions[0].at.time"]`
	b.waitFor("the problem beside the time", `!!document.querySelector('`+problem+`')`)
	if got := b.text(problem); !strings.Contains(got, `"10:0" is not a time of day (HH:MM, 24-hour)`) {
		t.Errorf("the problem reads %q", got)
	}
	if got := eval[string](b, `document.querySelector('`+at+`').getAttribute('aria-invalid')`); got != "true" {
		t.Errorf("the time field is not marked invalid: %q", got)
	}
	b.screenshotOf("edit-problem", "#rule-0")
	b.do("finish typing the time", cdp.SendKeys(cdp.CSS(at), "0"))
	b.waitFor("the problem to go", `!document.querySelector('.problem') && document.getElementById('status').textContent === 'The draft is sound.'`)
	if got := b.text("#sentence-0"); !strings.Contains(got, "the day before the due date at 10:00") {
		t.Errorf("the draft reads %q", got)
	}
	if got := eval[string](b, `document.getElementById('yaml').value`); !strings.Contains(got, `time: "10:00"`) {
		t.Errorf("the YAML behind the form:\n%s", got)
	}

	// 3. What would it have done to this week's calls?
	b.do("run the dry run", cdp.Click(cdp.CSS("#run-dryrun")), cdp.WaitVisible(cdp.CSS("#dryrun-report")))
	if got := b.text("#dryrun-summary"); !strings.Contains(got, "Tried on 6 calls") || !strings.Contains(got, "3 follow-ups differ") {
		t.Errorf("dry run summary: %q", got)
	}
	row := `tr[data-rule="promise-to-pay-reminder"][data-action="reminder"] `
	for css, want := range map[string]string{
		row + ".in-force": "3 (+1 skipped)", row + ".draft": "3 (+1 skipped)", row + ".changed": "3", row + ".added": "0", row + ".removed": "0",
		`tr[data-rule="needs-follow-up"] .draft`: "2", `tr[data-rule="needs-follow-up"] .changed`: "0",
	} {
		if got := b.text(css); got != want {
			t.Errorf("%s = %q, want %q", css, got, want)
		}
	}
	sample := b.text("li.sample.changed")
	if !strings.Contains(sample, "10:00 Asia/Jakarta") || !strings.Contains(sample, "in force: ") || !strings.Contains(sample, "09:00 Asia/Jakarta") ||
		strings.Count(sample, "Remind case") != 1 ||
		!strings.Contains(sample, "Remind case 7777777.0 to pay 20310.00") {
		t.Errorf("a changed sample reads %q", sample)
	}
	b.screenshotOf("what-would-it-have-done", "#dryrun")
	if n := len(team.received()); n != 0 {
		t.Errorf("the team channel received %d messages from a dry run", n)
	}

	// 4. She switches it on, with a reason, and finds it in the history.
	b.typeInto("#comment", "Customers answer more after 10:00")
	b.do("switch on", cdp.Click(cdp.CSS("#save-button")), cdp.WaitVisible(cdp.CSS("#version-2")))
	if got := b.text("#notice"); got != "Version 2 is in force." {
		t.Errorf("notice: %q", got)
	}
	v2 := b.text("#version-2")
	for _, want := range []string{"in force", "by Ana", "through the rules page", "“Customers answer more after 10:00”",
		"Rule promise-to-pay-reminder changed", "action reminder.at.time 09:00 → 10:00"} {
		if !strings.Contains(v2, want) {
			t.Errorf("version 2 in the history lacks %q:\n%s", want, v2)
		}
	}
	if got := b.text("#version-1 .author"); got != "admin API" {
		t.Errorf("version 1 author = %q", got)
	}
	if got := b.text("#version-1 .comment"); got != "“The collections team's first rules”" {
		t.Errorf("version 1 comment = %q", got)
	}
	b.screenshot("history")
	set := s.inForce()
	if set.Version != 2 || !strings.Contains(set.Document, `time: "10:00"`) || set.Author != "Ana" {
		t.Errorf("in force: %+v", set)
	}

	// 5. She restores the version before, as a new version.
	b.typeInto("#restore-comment-1", "back to 09:00 for the campaign")
	b.do("restore version 1", cdp.Click(cdp.CSS(`#version-1 form.restore button`)), cdp.WaitVisible(cdp.CSS("#version-3")))
	if got := b.text("#notice"); got != "Version 1 is restored: it is in force as version 3." {
		t.Errorf("notice: %q", got)
	}
	if got := b.text("#version-3 .comment"); got != "“Restored version 1: back to 09:00 for the campaign”" {
		t.Errorf("version 3 comment = %q", got)
	}
	if set := s.inForce(); set.Version != 3 || set.Document != pageRules || set.Author != "Ana" {
		t.Errorf("after the restore: %+v", set)
	}
	b.do("back to the rules", cdp.Navigate(s.http.URL+"/ui/"), cdp.WaitVisible(cdp.CSS("#version-line")))
	if got := b.text(ptp + ".sentence"); !strings.Contains(got, "at 09:00") {
		t.Errorf("after the restore the reminder reads %q", got)
	}

	// 6. Vic, a viewer, can look and try, not switch on.
	b.do("sign out", cdp.Click(cdp.CSS(`nav form button`)), cdp.WaitVisible(cdp.CSS("#token")))
	b.typeInto("#token", vicToken)
	b.do("sign in as a viewer", cdp.Click(cdp.CSS(`#login-form button[type=submit]`)), cdp.WaitVisible(cdp.CSS("#version-line")))
	b.do("open the editor as a viewer", cdp.Navigate(s.http.URL+"/ui/edit"), cdp.WaitVisible(cdp.CSS("#viewer-note")))
	if n := eval[int](b, `document.querySelectorAll('#save-button').length`); n != 0 {
		t.Errorf("a viewer is offered to switch on")
	}
	b.screenshot("viewer")
	status := eval[int](b, `fetch('/ui/api/save', {method: 'POST', headers: {'Content-Type': 'application/json',
		'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content},
		body: JSON.stringify({yaml: document.getElementById('yaml').value, comment: 'sneaky', base_version: 3})}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Errorf("a viewer's save answered %d, want 403", status)
	}
	if set := s.inForce(); set.Version != 3 {
		t.Errorf("a viewer changed the rules: version %d", set.Version)
	}
}

type ruleSetView struct {
	Version  int64
	Document string
	Author   string
}

func (s *system) inForce() ruleSetView {
	s.t.Helper()
	rec, err := s.store.LatestRuleSet(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return ruleSetView{rec.Version, rec.Document, rec.Author}
}
