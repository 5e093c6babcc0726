package rules_test

import (
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
)

// pdsCall is the PDS agent's call result of the example AgentStatus: a call with a recLink.
func pdsCall(t *testing.T) airudder.ReceivedCall {
	t.Helper()
	ev, err := airudder.ReadExampleEvent(airudder.KindPDS, airudder.ExamplePDSAgentStatus, "airudder", received)
	if err != nil || ev.Call == nil {
		t.Fatalf("example PDS agent status: %v (call %v)", err, ev.Call)
	}
	return *ev.Call
}

const archiveRule = `
rules:
  - id: keep-recordings
    when: "true"
    actions:
      - type: archive_recording
`

func TestArchiveRecordingPlansTheCallsLinkOrSaysWhyNot(t *testing.T) {
	set := compile(t, archiveRule)
	pds := pdsCall(t)
	p := set.Plan(pds, "call/airudder/pds/x", received)
	if len(p.FollowUps) != 1 {
		t.Fatalf("follow-ups %+v", p.FollowUps)
	}
	fu := p.FollowUps[0]
	if fu.Skip != "" || fu.Recording == nil || fu.Recording.URL != pds.Call.RecordingURL || fu.Recording.CallID != pds.Call.CallID ||
		fu.Recording.Source != "airudder" || fu.Recording.CallKey != pds.Key || fu.AtMostOnce() || fu.Reaches() {
		t.Errorf("PDS call: %+v (recording %+v)", fu, fu.Recording)
	}
	// A PDS call that came without its link is looked up by its callid.
	pds.Call.RecordingURL = ""
	if fu := set.Plan(pds, "call/airudder/pds/x", received).FollowUps[0]; fu.Skip != "" || fu.Recording == nil || fu.Recording.CallID == "" {
		t.Errorf("PDS call without a link: %+v", fu)
	}
	// The workflow family's call completion carries no link, and no known lookup: skipped, saying so.
	fu = set.Plan(seed(), "call/airudder/cad907", received).FollowUps[0]
	if fu.Recording != nil || !strings.Contains(fu.Skip, "no recording link") {
		t.Errorf("workflow call: %+v", fu)
	}
}

func TestArchiveRecordingIsForCallRulesWithoutAnEndpoint(t *testing.T) {
	re := refused(t, `
rules:
  - id: r
    when: "true"
    actions:
      - type: archive_recording
        url: https://example.com/x
  - id: e
    on: pds.agent_status
    when: "true"
    actions:
      - type: archive_recording
`, rules.Options{})
	got := strings.Join(re.Lines(), "\n")
	for _, want := range []string{"takes no target or url", "archive_recording is for rules on calls"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems:\n%s\nwant %q", got, want)
		}
	}
}

func TestASourcesArchiveFollowUpIsKeyedLikeARulesOwn(t *testing.T) {
	pds := pdsCall(t)
	if !rules.HasRecording(pds) || rules.HasRecording(seed()) {
		t.Fatalf("HasRecording: PDS %v, workflow call %v", rules.HasRecording(pds), rules.HasRecording(seed()))
	}
	fu := rules.ArchiveFollowUp(pds, "call/airudder/pds/x", 3, "Asia/Jakarta")
	if fu.Key != rules.FollowUpKey("call/airudder/pds/x", rules.SourceArchiveRule, rules.TypeArchiveRecording) ||
		fu.RuleID != rules.SourceArchiveRule || fu.RuleVersion != 3 || fu.Recording == nil || fu.Recording.URL != pds.Call.RecordingURL ||
		fu.AtMostOnce() || fu.NotBefore.IsZero() {
		t.Errorf("%+v", fu)
	}
	if again := rules.ArchiveFollowUp(pds, "call/airudder/pds/x", 4, "UTC"); again.Key != fu.Key {
		t.Errorf("a later rules version gave another key: %s, %s", again.Key, fu.Key)
	}
}
