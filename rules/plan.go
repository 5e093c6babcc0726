package rules

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/payload"
)

// FollowUp is one action planned for one call: everything needed to carry it out, decided once when the
// call is planned, so that a retry tomorrow sends what would have been sent today.
type FollowUp struct {
	// Key is the idempotency key: the same call, rule and action always give the same key. It is unique
	// in the database and sent to targets (webhook-id), so a repeat never becomes a second effect.
	Key             string            `json:"key"`
	RuleID          string            `json:"rule_id"`
	RuleVersion     int64             `json:"rule_version"`
	RuleDescription string            `json:"rule_description,omitempty"`
	Action          string            `json:"action"`
	Type            string            `json:"type"`
	Summary         string            `json:"summary"`
	CalleeNumber    string            `json:"callee_number"`
	Webhook         *WebhookRequest   `json:"webhook,omitempty"`
	Notify          *NotifyRequest    `json:"notify,omitempty"`
	Recall          *RecallRequest    `json:"recall,omitempty"`
	Cancel          *CancelRequest    `json:"cancel,omitempty"`
	Recording       *RecordingRequest `json:"recording,omitempty"`
	// ReachesPerson says the action reaches the callee (nil in plans made before it existed: then only
	// a re-call does). OnUnknown is what an attempt of unknown outcome leads to ("" in those plans: see
	// AtMostOnce).
	ReachesPerson *bool  `json:"reaches_person,omitempty"`
	OnUnknown     string `json:"on_unknown,omitempty"`
	// NotBefore is the earliest time the action may run (from delay and at).
	NotBefore time.Time `json:"not_before"`
	Window    *Window   `json:"window,omitempty"`
	MaxPerDay int       `json:"max_per_day,omitempty"`
	// SkipWhenCapped drops the action when the daily cap is reached instead of waiting for the next day.
	SkipWhenCapped bool `json:"skip_when_capped,omitempty"`
	// TimeZone is the rules' zone, which counts days for a cap when the action has no window.
	TimeZone string `json:"time_zone"`
	// Skip, when set, says why the action will not run at all (e.g. its time has passed).
	Skip string `json:"skip,omitempty"`
}

// WebhookRequest is a planned POST to a CRM or any HTTP endpoint.
type WebhookRequest struct {
	Target  string            `json:"target,omitempty"`
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body"`
	// BodyStored says Body was left out of a workflow's copy of the plan (ForWorkflow); the action reads
	// it from the stored follow-up.
	BodyStored bool `json:"body_stored,omitempty"`
}

// ForWorkflow is the plan as a workflow carries it: without a webhook body larger than
// payload.PlanBodyLimit, which the action then reads from the store (the follow-up is stored before any
// workflow carries its plan). Plans carried before the limit keep their bodies and are sent as they are.
func (f FollowUp) ForWorkflow() FollowUp {
	if f.Webhook != nil && len(f.Webhook.Body) > payload.PlanBodyLimit {
		w := *f.Webhook
		w.Body, w.BodyStored = nil, true
		f.Webhook = &w
	}
	return f
}

// NotifyRequest is a planned message to a Slack-compatible incoming webhook.
type NotifyRequest struct {
	Target string `json:"target,omitempty"`
	URL    string `json:"url,omitempty"`
	Text   string `json:"text"`
}

// RecallRequest is a planned re-call through Airudder's API.
type RecallRequest struct {
	// WorkflowID adds the callee to a running Airudder workflow; TemplateID starts a new instance.
	WorkflowID string            `json:"workflow_id,omitempty"`
	TemplateID string            `json:"workflow_template_id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Callee     string            `json:"callee"`
	Variables  map[string]string `json:"variables,omitempty"`
	// EndTime is when a new instance stops calling, as a time of day in the window's zone (the rules'
	// zone without a window); "" means the end of the calling window (see InstanceEnd).
	EndTime string `json:"end_time,omitempty"`
	// AutoFinish is a new instance's auto_finish (airudder.AutoFinishYes or AutoFinishNo); 0: not sent.
	AutoFinish int `json:"auto_finish,omitempty"`
	// ExpectWithin is how long after Airudder takes the re-call its call must complete before the re-call
	// is overdue (0, in plans made before it existed: DefaultExpectWithin).
	ExpectWithin time.Duration `json:"expect_within,omitempty"`
	// AskAfter is how long after an attempt of unknown outcome Airudder is asked whether the re-call took
	// effect (0, in plans made before it existed: DefaultAskAfter).
	AskAfter time.Duration `json:"ask_after,omitempty"`
}

// InstanceName is the name a new instance is created under: Name and a short suffix of the follow-up's
// key (" #1a2b3c4d"), so that two follow-ups never ask for one name (Airudder refuses a taken name), and
// an operator can tell which follow-up made the instance. try 0 is the first name; a later try gives
// another suffix, for when Airudder says the name is taken all the same.
func (r *RecallRequest) InstanceName(key string, try int) string {
	suffix := strings.TrimPrefix(key, "fu_")
	if try > 0 || len(suffix) < 8 {
		sum := sha256.Sum256([]byte(key + "#" + strconv.Itoa(try)))
		suffix = hex.EncodeToString(sum[:])
	}
	return r.Name + " #" + suffix[:8]
}

// DefaultExpectWithin is how long a re-call's call may take to complete when its rule does not say
// (expect_within).
const DefaultExpectWithin = 24 * time.Hour

// DefaultAskAfter is how long after an attempt of unknown outcome Airudder is asked where the callee went,
// when the rule does not say (ask_after): long enough for an upload that did reach Airudder to show.
const DefaultAskAfter = 10 * time.Minute

// AskDelay is how long after an attempt of unknown outcome to ask Airudder whether it took effect.
func (r *RecallRequest) AskDelay() time.Duration { return cmp.Or(r.AskAfter, DefaultAskAfter) }

// Deadline is when the call of a re-call Airudder took at taken must have completed.
func (r *RecallRequest) Deadline(taken time.Time) time.Time {
	return taken.Add(cmp.Or(r.ExpectWithin, DefaultExpectWithin))
}

// CancelRequest is a planned cancel of the remaining calls of a task to one number.
type CancelRequest struct {
	API    string `json:"api"` // CancelAPIWorkflow or CancelAPIPDS
	TaskID string `json:"task_id"`
	Callee string `json:"callee"`
}

// RecordingRequest is a planned archive of a call's recording: downloaded from URL (the link the call
// carried when it was planned; a later revision's is read from the store when this one is empty) or, for
// a PDS call without one, from the link Airudder's PDS API gives for CallID.
type RecordingRequest struct {
	URL string `json:"url,omitempty"`
	// CallID is the PDS callid to ask Airudder for the link (case/recording) when the call has none.
	CallID string `json:"callid,omitempty"`
	// Source and CallKey name the call in the bucket's key (recordings/{source}/{call key}/…).
	Source  string `json:"source"`
	CallKey string `json:"call_key"`
}

// SourceArchiveRule is the rule ID of the follow-ups a source's archive_recordings option plans: not
// a rule of the document (a rule's id cannot hold a ':'), shown as such in the follow-ups list.
const SourceArchiveRule = "source:archive-recordings"

// recordingRequest is what archiving rc's recording needs, or why it cannot be: a workflow-family call
// completion carries no recording link (the seed's callback has no such field, and the workflow
// family's lookup by call ID is known by title only), so only a PDS call has one, or a call ID to ask
// for it.
func recordingRequest(rc airudder.ReceivedCall) (*RecordingRequest, string) {
	req := &RecordingRequest{URL: strings.TrimSpace(rc.Call.RecordingURL), Source: rc.Source, CallKey: rc.Key}
	if rc.Kind == airudder.KindPDS {
		req.CallID = rc.Call.CallID
	}
	if req.URL == "" && req.CallID == "" {
		return nil, "the call has no recording link (Airudder's workflow call completion carries none; a PDS agent's call result carries recLink, or a callid to look it up by)"
	}
	return req, ""
}

// HasRecording says whether rc has a recording that archive_recording can fetch: a link, or a PDS call
// ID to ask Airudder for one.
func HasRecording(rc airudder.ReceivedCall) bool {
	_, why := recordingRequest(rc)
	return why == ""
}

// ArchiveFollowUp is the follow-up that a source's archive_recordings option plans for a call with a
// recording (HasRecording), as if a built-in rule said so: rule SourceArchiveRule, action
// archive_recording, keyed like any follow-up of the call's workflow. version is the rules version in
// force when it was planned (0 without one), zone their time zone.
func ArchiveFollowUp(rc airudder.ReceivedCall, callWorkflowID string, version int64, zone string) FollowUp {
	reaches := false
	fu := FollowUp{
		Key: FollowUpKey(callWorkflowID, SourceArchiveRule, TypeArchiveRecording), RuleID: SourceArchiveRule, RuleVersion: version,
		RuleDescription: "the source archives every recording (archive_recordings)", Action: TypeArchiveRecording,
		Type: TypeArchiveRecording, CalleeNumber: rc.Call.CalleeNumber, ReachesPerson: &reaches, OnUnknown: OnUnknownRetry,
		NotBefore: rc.ReceivedAt.UTC(), TimeZone: cmp.Or(zone, "UTC"),
	}
	fu.archive(rc, SourceArchiveRule)
	return fu
}

// archive plans the download of rc's recording, or a skip that says why there is none.
func (fu *FollowUp) archive(rc airudder.ReceivedCall, ruleID string) {
	req, why := recordingRequest(rc)
	fu.Summary = fmt.Sprintf("Archive the recording of call %s (%s)", rc.Key, ruleID)
	if why != "" {
		fu.Skip = why
		return
	}
	fu.Recording = req
}

// Reaches says whether the action reaches the callee: its daily cap counts every call the callee
// received, and by default an attempt of unknown outcome is not repeated.
func (f *FollowUp) Reaches() bool {
	if f.ReachesPerson != nil {
		return *f.ReachesPerson
	}
	return f.Type == TypeAirudderRecall
}

// AtMostOnce says whether an attempt whose outcome is unknown must not be repeated without an operator:
// on_unknown as the rule said, or, in plans made before it existed, whether the action reaches a person.
func (f *FollowUp) AtMostOnce() bool {
	switch f.OnUnknown {
	case OnUnknownReview:
		return true
	case OnUnknownRetry:
		return false
	}
	return f.Reaches()
}

// Plan is what a rules version decides for one call.
type Plan struct {
	Version   int64      `json:"rule_version"`
	Matched   []string   `json:"matched_rules"`
	FollowUps []FollowUp `json:"follow_ups"`
	// Errors are rules whose condition failed on this call (e.g. a variable the call does not have);
	// such a rule counts as not matched. (An action whose template fails on the call is planned as
	// skipped, with the reason.)
	Errors []Problem `json:"errors,omitempty"`
}

// FollowUpKey derives a follow-up's idempotency key from what it follows up (the workflow ID of its
// call or event; for an event about a call, the call: see followUpScope), its rule and its action.
func FollowUpKey(scope, ruleID, action string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + ruleID + "\x00" + action))
	return "fu_" + hex.EncodeToString(sum[:12])
}

// Plan evaluates every enabled rule against a call and plans the actions of those that match. now is the
// time of planning: an `at` already past is planned as skipped.
func (s *Set) Plan(rc airudder.ReceivedCall, callWorkflowID string, now time.Time) Plan {
	facts := FactsOf(rc)
	return s.planMatching(planBudget(), CallOn(rc), "call", map[string]any{"call": facts}, func(r *Rule, a *Action, b budget) (FollowUp, error) {
		return s.plan(r, a, rc, facts, callWorkflowID, now, b)
	})
}

// planMatching evaluates every enabled rule on `on` with vars and plans each action of those that match;
// an action that cannot be planned is recorded as skipped, with the reason, where operators look for
// follow-ups ("could not be planned for this <what>"). Every condition and template shares b: a condition
// stopped by it counts as not matched, with the reason among the plan's errors.
func (s *Set) planMatching(b budget, on, what string, vars map[string]any, plan func(*Rule, *Action, budget) (FollowUp, error)) Plan {
	p := Plan{Version: s.Version, Matched: []string{}, FollowUps: []FollowUp{}}
	ctx, cancel := context.WithDeadline(context.Background(), b.until)
	defer cancel()
	for _, r := range s.Rules {
		if !r.Enabled || r.program == nil || cmp.Or(r.On, OnCallCompleted) != on {
			continue
		}
		out, _, err := r.program.ContextEval(ctx, vars)
		if err != nil {
			msg := err.Error()
			if ctx.Err() != nil {
				msg = "ran out of time: " + b.what
			}
			p.Errors = append(p.Errors, Problem{Line: r.Line, Rule: r.ID, Field: "when", Message: msg})
			continue
		}
		if matched, _ := out.Value().(bool); !matched {
			continue
		}
		p.Matched = append(p.Matched, r.ID)
		for _, a := range r.Actions {
			fu, err := plan(r, a, b)
			if err != nil {
				fu.Skip = "could not be planned for this " + what + ": " + err.Error()
				fu.Webhook, fu.Notify, fu.Recall, fu.Cancel, fu.Recording = nil, nil, nil, nil, nil
			}
			p.FollowUps = append(p.FollowUps, fu)
		}
	}
	return p
}

// followUp is what every follow-up of action a of rule r carries, whatever it follows up.
func (s *Set) followUp(r *Rule, a *Action, key, calleeNumber string) FollowUp {
	return FollowUp{
		Key: key, RuleID: r.ID, RuleVersion: s.Version, RuleDescription: r.Description, Action: a.Name, Type: a.Type,
		CalleeNumber: calleeNumber, Window: a.Window, MaxPerDay: a.MaxPerDay,
		SkipWhenCapped: a.SkipWhenCapped, TimeZone: s.TimeZone,
		ReachesPerson: &a.ReachesPerson, OnUnknown: a.OnUnknown,
		Summary: fmt.Sprintf("%s %s (%s)", a.Type, a.Name, r.ID),
	}
}

func (s *Set) plan(r *Rule, a *Action, rc airudder.ReceivedCall, facts *Call, callWorkflowID string, now time.Time, b budget) (FollowUp, error) {
	key := FollowUpKey(callWorkflowID, r.ID, a.Name)
	fu := s.followUp(r, a, key, rc.Call.CalleeNumber)
	data := templateData(facts, r.ID, s.Version, a, key)
	data["rule"].(map[string]any)["description"] = r.Description

	// Delays count from the end of the call (from its arrival if Airudder sent no end time).
	base := facts.CallEndTime
	if base.IsZero() {
		base = facts.ReceivedAt
	}
	fu.NotBefore = base.Add(a.Delay)
	if a.At != nil {
		at, ok := a.At.resolve(facts)
		switch {
		case !ok:
			fu.Skip = "the call has no " + a.At.Date
		case at.Before(now):
			fu.Skip = "its time, " + at.Format(time.RFC3339) + ", had passed when the call was planned"
		case at.After(fu.NotBefore):
			fu.NotBefore = at
		}
	}
	fu.NotBefore = fu.NotBefore.UTC()
	err := fu.request(a, r, data, b, "call", func() any {
		return map[string]any{"source": rc.Source, "key": rc.Key, "received_at": rc.ReceivedAt, "task": rc.Task, "call": rc.Call}
	})
	if a.Type == TypeArchiveRecording && fu.Skip == "" {
		fu.archive(rc, r.ID)
	}
	return fu, err
}

// request renders the action's request for the follow-up from the template data: a webhook's body (the
// action's template, or by default the follow-up, the rule, the action's fields and subject's default,
// under the subject's name), a notification's text, a re-call or a cancel. A request that lacks what it
// needs (a number, a task) makes the follow-up a skip that says so. subject is "call" or "event"; b is
// the time the plan's templates have left.
func (fu *FollowUp) request(a *Action, r *Rule, data map[string]any, b budget, subject string, subjectBody func() any) error {
	switch a.Type {
	case TypeWebhook:
		body, err := webhookBody(a, data, b, fu.Key, r, fu.RuleVersion, subject, subjectBody)
		if err != nil {
			return err
		}
		fu.Webhook = &WebhookRequest{Target: a.Target, URL: a.URL, Headers: a.Headers, Body: body}
		fu.Summary = fmt.Sprintf("POST %s (%s)", endpointName(a), r.ID)
	case TypeNotify:
		text, err := render(a.text, data, b)
		if err != nil {
			return err
		}
		fu.Notify = &NotifyRequest{Target: a.Target, URL: a.URL, Text: text}
		fu.Summary = fmt.Sprintf("Notify %s (%s)", endpointName(a), r.ID)
	case TypeAirudderRecall:
		req := &RecallRequest{WorkflowID: a.airudderWorkflowID, TemplateID: a.templateID, EndTime: a.endTime, AutoFinish: a.autoFinish,
			Variables: map[string]string{}, ExpectWithin: a.expectWithin, AskAfter: a.askAfter}
		var err error
		if req.Callee, err = render(a.callee, data, b); err != nil {
			return err
		}
		if req.TemplateID != "" {
			if req.Name, err = render(a.instanceName, data, b); err != nil {
				return err
			}
		}
		for k, t := range a.variables {
			if req.Variables[k], err = render(t, data, b); err != nil {
				return err
			}
		}
		if strings.TrimSpace(req.Callee) == "" {
			fu.Skip = "the " + subject + " has no number to call"
		}
		fu.CalleeNumber = cmp.Or(fu.CalleeNumber, req.Callee)
		fu.Recall = req
		fu.Summary = fmt.Sprintf("Call %s through Airudder (%s)", airudder.MaskPhone(req.Callee), r.ID)
	case TypeAirudderCancelContact:
		req := &CancelRequest{API: a.cancelAPI}
		var err error
		if req.Callee, err = render(a.callee, data, b); err != nil {
			return err
		}
		if req.TaskID, err = render(a.taskID, data, b); err != nil {
			return err
		}
		switch {
		case strings.TrimSpace(req.Callee) == "":
			fu.Skip = "the " + subject + " has no number whose calls to cancel"
		case strings.TrimSpace(req.TaskID) == "":
			fu.Skip = "the " + subject + " has no task whose calls to cancel"
		}
		fu.Cancel = req
		fu.Summary = fmt.Sprintf("Cancel the remaining calls to %s in task %s (%s)", airudder.MaskPhone(req.Callee), req.TaskID, r.ID)
	}
	return nil
}

func endpointName(a *Action) string {
	if a.Target != "" {
		return a.Target
	}
	return a.URL
}

// webhookBody is the action's template, or by default the follow-up, the rule, the action's fields and
// the whole subject (the call or the event) under its name.
func webhookBody(a *Action, data map[string]any, b budget, key string, r *Rule, version int64, subject string, subjectBody func() any) (json.RawMessage, error) {
	if a.body != nil {
		out, err := render(a.body, data, b)
		if err != nil {
			return nil, err
		}
		if !json.Valid([]byte(out)) {
			return nil, fmt.Errorf("the body template gave something that is not JSON")
		}
		return json.RawMessage(out), nil
	}
	body := map[string]any{
		"type": "rudderhook.follow_up",
		"follow_up": map[string]any{
			"key":    key,
			"rule":   map[string]any{"id": r.ID, "version": version, "description": r.Description},
			"action": map[string]any{"name": a.Name, "type": a.Type, "fields": a.Fields},
		},
		subject: subjectBody(),
	}
	return json.Marshal(body)
}

// templateData is what templates see: {{ .call.case_id }}, {{ .rule.id }}, {{ .action.fields.x }},
// {{ .follow_up_id }}.
func templateData(facts *Call, ruleID string, version int64, a *Action, key string) map[string]any {
	fields := a.Fields
	if fields == nil {
		fields = map[string]any{}
	}
	return map[string]any{
		"call":         facts.Map(),
		"rule":         map[string]any{"id": ruleID, "version": version, "description": ""},
		"action":       map[string]any{"name": a.Name, "type": a.Type, "fields": fields},
		"follow_up_id": key,
	}
}

// PlanSubject plans the follow-ups of a subject: Plan for a call, PlanEvent for an event. workflowID is
// its workflow's, from which the follow-ups' idempotency keys are derived.
func (s *Set) PlanSubject(subj airudder.Subject, workflowID string, now time.Time) Plan {
	if subj.IsCall() {
		return s.Plan(*subj.Call, workflowID, now)
	}
	return s.PlanEvent(*subj.Event, workflowID, now)
}

// followUpScope is what the follow-ups planned on an event are keyed by: the event's workflow ID, or,
// for an event about a call, that call within the event's source and kind ("event/{source}/{kind}/" and
// the event's Subject, "call/{callid}"), which every state of the call shares. An event's own key never
// has that form (a PDS key begins with its type or "sha256:"), so the two scopes never meet.
func followUpScope(ev airudder.Event, eventWorkflowID string) string {
	if ev.AboutCall() {
		return "event/" + ev.Source + "/" + ev.Kind + "/" + ev.Subject
	}
	return eventWorkflowID
}

// CallOn is the kind a call's rules are written for: info_check_completed for an info check's calls,
// call_completed for the others (call completion, and a PDS agent's call result, so that rules on calls
// work across both families).
func CallOn(rc airudder.ReceivedCall) string { return airudder.CallSubject(rc).On() }

// PlanEvent evaluates every enabled rule on the event's kind against it and plans the actions of those
// that match, as Plan does for calls. Delays count from when the event happened (from its arrival when
// the sender did not say).
//
// An event about a call (a PDS contact's or agent's state) plans under keys of the call, not of the
// event: the states of one call are events of their own (HANGUP, then TALKRESULT), and a rule that
// matches both must remind or re-call once (docs/design.md: Rules on a call's states act once per call).
func (s *Set) PlanEvent(ev airudder.Event, eventWorkflowID string, now time.Time) Plan {
	facts := EventFactsOf(ev)
	return s.planMatching(planBudget(), ev.On, "event", map[string]any{"event": celInput(facts)}, func(r *Rule, a *Action, b budget) (FollowUp, error) {
		return s.planEvent(r, a, ev, facts, eventWorkflowID, b)
	})
}

func (s *Set) planEvent(r *Rule, a *Action, ev airudder.Event, facts any, eventWorkflowID string, b budget) (FollowUp, error) {
	key := FollowUpKey(followUpScope(ev, eventWorkflowID), r.ID, a.Name)
	fu := s.followUp(r, a, key, ev.CalleeNumber)
	data := eventTemplateData(ev, facts, r.ID, s.Version, a, key)
	data["rule"].(map[string]any)["description"] = r.Description
	base := ev.ReceivedAt
	if ev.Time != nil {
		base = *ev.Time
	}
	fu.NotBefore = base.Add(a.Delay).UTC()
	err := fu.request(a, r, data, b, "event", func() any {
		return map[string]any{"source": ev.Source, "kind": ev.Kind, "on": ev.On, "key": ev.Key,
			"received_at": ev.ReceivedAt, "fields": data["event"], "raw": ev.Raw}
	})
	return fu, err
}
