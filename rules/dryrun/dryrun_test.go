package dryrun_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/dryrun"
	"github.com/rudderhook/rudderhook/store"
)

func compile(t *testing.T, src string) *rules.Set {
	t.Helper()
	set, err := rules.Compile([]byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func compare(t *testing.T, inForce, draft *rules.Set, calls []store.CallRecord) dryrun.Diff {
	t.Helper()
	d, err := dryrun.Compare(context.Background(), inForce, draft, calls)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The example call needs a follow-up; its number is +86xxxxxxxx721.
func calls() []store.CallRecord {
	rc := airudder.ExampleCalls("airudder", time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC))[0]
	return []store.CallRecord{{ReceivedCall: rc, WorkflowID: "call/airudder/" + rc.Key}}
}

const base = `time_zone: Asia/Jakarta
rules:
  - id: nfu
    when: call.intention_description == "Needs Follow Up"
    actions:
      - {name: task, type: webhook, url: 'https://crm.example/secret-path', fields: {queue: a}}
      - {name: chat, type: notify, url: 'https://hooks.example/T/B/SECRET', text: "Case {{ .call.case_id }}", delay: 2h}
`

func TestCompareCountsAddedRemovedAndChangedPerAction(t *testing.T) {
	inForce := compile(t, base)
	inForce.Version = 7 // a version in the default webhook body is not a change
	draft := compile(t, strings.Replace(base, "delay: 2h", "delay: 3h", 1)+
		"  - id: recall\n    when: 'true'\n    actions: [{type: airudder_recall, workflow_id: wf}]\n")
	d := compare(t, inForce, draft, calls())
	if d.Calls != 1 || d.Changed != 2 || len(d.Rows) != 3 {
		t.Fatalf("diff = %+v", d)
	}
	task, chat, recall := d.Rows[0], d.Rows[1], d.Rows[2]
	if task.Action != "task" || task.InForce != 1 || task.Draft != 1 || task.Changed != 0 || task.Samples[0].Change != "same" {
		t.Errorf("task: %+v", task)
	}
	if chat.Changed != 1 || !strings.Contains(chat.Samples[0].When, "13:20") || !strings.Contains(chat.Samples[0].Before, "12:20") {
		t.Errorf("chat: %+v", chat)
	}
	if recall.Added != 1 || recall.InForce != 0 || !strings.Contains(recall.Samples[0].Request, "+86••••••••721") {
		t.Errorf("recall: %+v", recall)
	}
	for _, r := range d.Rows {
		for _, s := range r.Samples {
			if strings.Contains(s.Request+s.Before, "SECRET") || strings.Contains(s.Request, "secret-path") {
				t.Errorf("a sample shows a URL's path: %+v", s)
			}
		}
	}
	// Without rules in force, everything is added; a draft without the rules in force's rule removes it.
	if d := compare(t, nil, inForce, calls()); d.Rows[0].Added != 1 || d.Rows[1].Added != 1 {
		t.Errorf("no rules in force: %+v", d.Rows)
	}
	none := compile(t, "rules: []")
	if d := compare(t, inForce, none, calls()); d.Rows[0].Removed != 1 || d.Rows[0].Samples[0].Change != "removed" || d.Changed != 2 {
		t.Errorf("removed: %+v", d)
	}
	if inForce.Version != 7 {
		t.Errorf("Compare changed the shared set's version")
	}
}

// A dry run stops when its time is up, between two calls, rather than trying every call however long
// the draft's templates take on each.
func TestDryRunStopsWhenItsTimeIsUp(t *testing.T) {
	set := compile(t, base)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := dryrun.Run(ctx, set, calls()); !errors.Is(err, dryrun.ErrTooLong) || !strings.Contains(err.Error(), "stopped after 0 of 1 calls (a dry run has 10s)") {
		t.Errorf("Run: %v", err)
	}
	if _, err := dryrun.Compare(ctx, nil, set, calls()); !errors.Is(err, dryrun.ErrTooLong) {
		t.Errorf("Compare: %v", err)
	}
	if report, err := dryrun.Run(context.Background(), set, calls()); err != nil || report.FollowUps != 2 {
		t.Errorf("with time left: %+v, %v", report, err)
	}
}
