// Package dryrun tries rules on stored calls without doing anything: what each call would have
// planned (Run), over the calls a selection picks (Calls), and how a draft differs from the rules in
// force on the same calls (Compare). The admin API's POST /v1/rules/dry-run and the rules page both use it.
// A dry run gives up after Timeout, whatever the draft's templates do (each plan has rules.PlanTimeout).
//
// It sits beside rulesync, between rules (pure planning) and store (rows): it imports both, and api and
// ui import it. Nothing here writes or sends.
package dryrun

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// Selection picks the stored calls to try rules on: by ID, or else the newest that match Filter, at most
// Limit.
type Selection struct {
	CallIDs []string
	Filter  store.CallFilter
	Limit   int
}

// ErrNoCall is a call named by ID that is not stored.
var ErrNoCall = errors.New("no such call")

// Calls are the calls a selection picks.
func Calls(ctx context.Context, st *store.Store, sel Selection) ([]store.CallRecord, error) {
	if len(sel.CallIDs) == 0 {
		sel.Filter.Limit = sel.Limit
		calls, _, err := st.ListCalls(ctx, sel.Filter)
		return calls, err
	}
	var calls []store.CallRecord
	for _, id := range sel.CallIDs {
		found, err := st.FindCalls(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("no call with ID %q: %w", id, ErrNoCall)
		}
		calls = append(calls, found...)
	}
	return calls, nil
}

// Call is what the rules would have done with one stored call.
type Call struct {
	Source               string           `json:"source"`
	Key                  string           `json:"key"`
	CaseID               string           `json:"case_id"`
	Intention            string           `json:"intention"`
	IntentionDescription string           `json:"intention_description"`
	ReceivedAt           time.Time        `json:"received_at"`
	Matched              []string         `json:"matched_rules"`
	FollowUps            []rules.FollowUp `json:"follow_ups"`
	Errors               []rules.Problem  `json:"errors,omitempty"`
}

// Report is what a dry run answers: per call, and counted over all of them.
type Report struct {
	RuleVersion *int64         `json:"rule_version"`
	Calls       []Call         `json:"calls"`
	Matched     map[string]int `json:"matched"`
	FollowUps   int            `json:"follow_ups"`
}

// Timeout is how long a dry run (Run, or Compare's two) may take: between two calls it stops if the time
// is up, so it takes at most Timeout and one call's plan (rules.PlanTimeout).
const Timeout = 10 * time.Second

// ErrTooLong is a dry run stopped by Timeout.
var ErrTooLong = errors.New("the dry run took too long")

// Run plans every call with set, as of when the call arrived, and counts what matched. It gives up with
// ErrTooLong after Timeout (and with ctx's error when ctx ends).
func Run(ctx context.Context, set *rules.Set, calls []store.CallRecord) (Report, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	out := Report{Calls: make([]Call, 0, len(calls)), Matched: map[string]int{}}
	if set.Version > 0 {
		out.RuleVersion = &set.Version
	}
	for i, rec := range calls {
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("stopped after %d of %d calls (a dry run has %s): %w", i, len(calls), Timeout, ErrTooLong)
			}
			return Report{}, err
		}
		p := set.Plan(rec.ReceivedCall, rec.WorkflowID, rec.ReceivedAt)
		out.Calls = append(out.Calls, Call{
			Source: rec.Source, Key: rec.Key, CaseID: rec.Call.CaseID, Intention: rec.Call.Intention,
			IntentionDescription: rec.Call.IntentionDescription, ReceivedAt: rec.ReceivedAt,
			Matched: p.Matched, FollowUps: p.FollowUps, Errors: p.Errors,
		})
		for _, id := range p.Matched {
			out.Matched[id]++
		}
		out.FollowUps += len(p.FollowUps)
	}
	return out, nil
}

// Diff is how a draft's plans differ from those of the rules in force, over the same calls.
type Diff struct {
	Calls int   `json:"calls"`
	Rows  []Row `json:"rows"`
	// Changed counts the follow-ups added, removed or changed in all.
	Changed int `json:"changed"`
	// Errors are conditions of the draft that failed on a call (the call counts as not matched).
	Errors []CallError `json:"errors,omitempty"`
}

// CallError is a condition that failed on one call.
type CallError struct {
	CallKey string        `json:"call_key"`
	Problem rules.Problem `json:"problem"`
}

// Row is one rule's action: how many follow-ups each version plans, and how they differ.
type Row struct {
	Rule   string `json:"rule"`
	Action string `json:"action"`
	Type   string `json:"type"`
	// InForce and Draft count the follow-ups each would plan to run; Skipped those each plans as skipped
	// (a time already past, a date the call lacks).
	InForce        int `json:"in_force"`
	Draft          int `json:"draft"`
	InForceSkipped int `json:"in_force_skipped"`
	DraftSkipped   int `json:"draft_skipped"`
	// Added are planned by the draft only, Removed by the rules in force only, Changed by both but
	// differently (another time, another message).
	Added   int      `json:"added"`
	Removed int      `json:"removed"`
	Changed int      `json:"changed"`
	Samples []Sample `json:"samples"`
}

// Sample is one call's follow-up of a row, as the draft would plan it (or as the rules in force did,
// when the draft removes it).
type Sample struct {
	CallKey    string    `json:"call_key"`
	CaseID     string    `json:"case_id"`
	Intention  string    `json:"intention"`
	ReceivedAt time.Time `json:"received_at"`
	// Change is added, removed, changed or same.
	Change string `json:"change"`
	// When and Request are the draft's (for removed, the rules in force's); Before says what the rules
	// in force plan instead, for a change.
	When    string `json:"when"`
	Request string `json:"request"`
	Before  string `json:"before,omitempty"`
	Skip    string `json:"skip,omitempty"`
}

// samplesPerRow is how many sample calls a row shows, changes first.
const samplesPerRow = 3

// Compare plans calls with the rules in force (nil: none) and with a draft, and says per rule and action
// how they differ. Both are planned as unsaved versions, so a version number in a webhook body is not
// taken for a change. Both runs together have Timeout (ErrTooLong).
func Compare(ctx context.Context, inForce, draft *rules.Set, calls []store.CallRecord) (Diff, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	unsaved := func(s *rules.Set) *rules.Set {
		if s == nil {
			return &rules.Set{}
		}
		c := *s // Plan reads the set; a shallow copy with another version leaves the shared one alone
		c.Version = 0
		return &c
	}
	before, err := Run(ctx, unsaved(inForce), calls)
	if err != nil {
		return Diff{}, err
	}
	after, err := Run(ctx, unsaved(draft), calls)
	if err != nil {
		return Diff{}, err
	}
	rows := map[[2]string]*Row{}
	var order [][2]string
	row := func(fu rules.FollowUp) *Row {
		k := [2]string{fu.RuleID, fu.Action}
		if rows[k] == nil {
			rows[k] = &Row{Rule: fu.RuleID, Action: fu.Action, Type: fu.Type, Samples: []Sample{}}
			order = append(order, k)
		}
		return rows[k]
	}
	// Every action of either version has a row, in the draft's order, even when it plans nothing.
	for _, set := range []*rules.Set{draft, inForce} {
		if set == nil {
			continue
		}
		for _, r := range set.Rules {
			for _, a := range r.Actions {
				row(rules.FollowUp{RuleID: r.ID, Action: a.Name, Type: a.Type})
			}
		}
	}
	diff := Diff{Calls: len(calls)}
	for i, c := range after.Calls {
		old := map[[2]string]rules.FollowUp{}
		for _, fu := range before.Calls[i].FollowUps {
			old[[2]string{fu.RuleID, fu.Action}] = fu
		}
		for _, e := range c.Errors {
			diff.Errors = append(diff.Errors, CallError{CallKey: c.Key, Problem: e})
		}
		for _, fu := range c.FollowUps {
			r := row(fu)
			count(&r.Draft, &r.DraftSkipped, fu)
			s := sample(c, fu)
			prev, had := old[[2]string{fu.RuleID, fu.Action}]
			delete(old, [2]string{fu.RuleID, fu.Action})
			switch {
			case !had:
				s.Change = "added"
				r.Added++
			case !samePlan(prev, fu):
				s.Change = "changed"
				s.Before = describeWhen(prev)
				if was := request(prev); was != s.Request {
					s.Before += " — " + was
				}
				r.Changed++
				count(&r.InForce, &r.InForceSkipped, prev)
			default:
				s.Change = "same"
				count(&r.InForce, &r.InForceSkipped, prev)
			}
			r.Samples = append(r.Samples, s)
		}
		for _, fu := range before.Calls[i].FollowUps { // in the order planned
			if _, gone := old[[2]string{fu.RuleID, fu.Action}]; !gone {
				continue
			}
			r := row(fu)
			count(&r.InForce, &r.InForceSkipped, fu)
			s := sample(c, fu)
			s.Change = "removed"
			r.Removed++
			r.Samples = append(r.Samples, s)
		}
	}
	for _, k := range order {
		r := rows[k]
		// Changes first, then the calls as they came; a few of each row.
		slices.SortStableFunc(r.Samples, func(a, b Sample) int { return cmp.Compare(rank(a.Change), rank(b.Change)) })
		r.Samples = r.Samples[:min(len(r.Samples), samplesPerRow)]
		diff.Changed += r.Added + r.Removed + r.Changed
		diff.Rows = append(diff.Rows, *r)
	}
	return diff, nil
}

func rank(change string) int {
	if change == "same" {
		return 1
	}
	return 0
}

func count(planned, skipped *int, fu rules.FollowUp) {
	if fu.Skip != "" {
		*skipped++
	} else {
		*planned++
	}
}

// samePlan reports whether two plans of one rule's action for one call would do the same thing: both
// nothing (skipped, whatever the reason says), or the same request at the same time.
func samePlan(a, b rules.FollowUp) bool {
	if a.Skip != "" && b.Skip != "" {
		return true
	}
	a.RuleVersion, b.RuleVersion = 0, 0
	a.RuleDescription, b.RuleDescription = "", ""
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func sample(c Call, fu rules.FollowUp) Sample {
	return Sample{
		CallKey: c.Key, CaseID: c.CaseID, Intention: cmp.Or(c.IntentionDescription, c.Intention), ReceivedAt: c.ReceivedAt,
		When: describeWhen(fu), Request: request(fu), Skip: fu.Skip,
	}
}

// describeWhen says when a planned follow-up would run, in its own zone.
func describeWhen(fu rules.FollowUp) string {
	if fu.Skip != "" {
		return "skipped: " + fu.Skip
	}
	return fu.WhenText(fu.Earliest(fu.NotBefore))
}

// maxRequest is how much of a rendered request a sample shows.
const maxRequest = 600

// request is the rendered message or request of a follow-up, as a sample shows it: a phone number
// masked, a URL reduced to its target name or host.
func request(fu rules.FollowUp) string {
	var s string
	switch {
	case fu.Notify != nil:
		s = "message to " + rules.EndpointLabel(fu.Notify.Target, fu.Notify.URL) + ": " + fu.Notify.Text
	case fu.Webhook != nil:
		var pretty bytes.Buffer
		if json.Compact(&pretty, fu.Webhook.Body) != nil {
			pretty.Reset()
			pretty.Write(fu.Webhook.Body)
		}
		s = "POST to " + rules.EndpointLabel(fu.Webhook.Target, fu.Webhook.URL) + ": " + pretty.String()
	case fu.Recall != nil:
		via := "running workflow " + fu.Recall.WorkflowID
		if fu.Recall.TemplateID != "" {
			via = "a new instance of template " + fu.Recall.TemplateID + " named " + strconvQuote(fu.Recall.Name)
		}
		s = "re-call " + airudder.MaskPhone(fu.Recall.Callee) + " through " + via
		if len(fu.Recall.Variables) > 0 {
			keys := make([]string, 0, len(fu.Recall.Variables))
			for k, v := range fu.Recall.Variables {
				keys = append(keys, k+"="+strconvQuote(v))
			}
			slices.Sort(keys)
			s += " with " + strings.Join(keys, ", ")
		}
	case fu.Cancel != nil:
		s = "cancel the calls to " + airudder.MaskPhone(fu.Cancel.Callee) + " in task " + fu.Cancel.TaskID + " (" + fu.Cancel.API + ")"
	default:
		s = fu.Summary
	}
	if r := []rune(s); len(r) > maxRequest {
		s = string(r[:maxRequest]) + "…"
	}
	return s
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
