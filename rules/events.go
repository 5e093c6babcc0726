package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/rudderhook/rudderhook/airudder"
)

// Kinds of callback that rules are written for, by `on:`. Calls (call completion, info check, a PDS
// agent's call result) are read as `call`; the other kinds as `event`, with the fields of their type.
const (
	OnCallCompleted       = KindCallCompleted
	OnInfoCheckCompleted  = "info_check_completed"
	OnListCompleted       = "list_completed"
	OnStatusChanged       = "status_changed"
	OnQAResult            = "qa_result"
	OnPDSTaskStatus       = "pds.task_status"
	OnPDSContactStatus    = "pds.contact_status"
	OnPDSAgentStatus      = "pds.agent_status"
	OnChatbotSessionEnded = "chatbot_session_ended"
)

// ListCompletedFacts is what a rule on list_completed sees as `event`.
type ListCompletedFacts struct {
	Source       string    `cel:"source"`
	WorkflowID   string    `cel:"workflow_id"`
	WorkflowName string    `cel:"workflow_name"`
	CaseID       string    `cel:"case_id"`
	CalleeNumber string    `cel:"callee_number"`
	TaskID       string    `cel:"task_id"`
	NodeCount    int64     `cel:"node_count"`
	CallNodes    int64     `cel:"call_nodes"`
	NodeTypes    []string  `cel:"node_types"`
	ReceivedAt   time.Time `cel:"received_at"`
}

// StatusChangedFacts is what a rule on status_changed sees as `event`.
type StatusChangedFacts struct {
	Source       string `cel:"source"`
	WorkflowID   string `cel:"workflow_id"`
	WorkflowName string `cel:"workflow_name"`
	Status       string `cel:"status"`
	TaskID       string `cel:"task_id"`
	// TaskStatuses are the node tasks' statuses by node task name (or ID).
	TaskStatuses map[string]string `cel:"task_statuses"`
	ReceivedAt   time.Time         `cel:"received_at"`
}

// QAResultFacts is what a rule on qa_result sees as `event`.
type QAResultFacts struct {
	Source     string `cel:"source"`
	TaskID     string `cel:"task_id"`
	Recordings int64  `cel:"recordings"`
	// Hit and Missed are the names of the check points that were hit, and not, by check point type
	// ("SOP", "Negative"); a type is a key only when it has at least one: `"Negative" in event.hit`.
	Hit        map[string][]string `cel:"hit"`
	Missed     map[string][]string `cel:"missed"`
	ReceivedAt time.Time           `cel:"received_at"`
}

// PDSFacts is what a rule on a PDS webhook (pds.task_status, pds.contact_status, pds.agent_status)
// sees as `event`; a field the type does not carry is refused by lint (see pdsFields).
type PDSFacts struct {
	Source       string `cel:"source"`
	TaskID       string `cel:"task_id"`
	TaskName     string `cel:"task_name"`
	GroupName    string `cel:"group_name"`
	CallID       string `cel:"call_id"`
	CalleeNumber string `cel:"callee_number"`
	AgentName    string `cel:"agent_name"`
	State        string `cel:"state"`
	// Time is the event's timestamp.
	Time         time.Time `cel:"time"`
	HangupReason int64     `cel:"hangup_reason"`
	NthCall      int64     `cel:"nth_call"`
	TalkRemarks  string    `cel:"talk_remarks"`
	RecLink      string    `cel:"rec_link"`
	// Results are customizeResults, keys as the agent's form names them: `event.results["PTP Date"]`.
	Results map[string]string `cel:"results"`
	// Intention is the deepest LevelN result (as a PDS call's intention).
	Intention  string    `cel:"intention"`
	ReceivedAt time.Time `cel:"received_at"`
}

// ChatbotSessionEndedFacts is what a rule on chatbot_session_ended sees as `event`.
type ChatbotSessionEndedFacts struct {
	Source       string `cel:"source"`
	WorkflowID   string `cel:"workflow_id"`
	WorkflowName string `cel:"workflow_name"`
	NodeTaskID   string `cel:"node_task_id"`
	NodeTaskName string `cel:"node_task_name"`
	WabaTaskID   string `cel:"waba_task_id"`
	WfDetailUUID string `cel:"wfdetail_uuid"`
	// Timestamp is the integer Airudder sends (its unit is not documented); 0 when it sent none.
	Timestamp    int64     `cel:"timestamp"`
	Channel      string    `cel:"channel"`
	ChannelID    string    `cel:"channel_id"`
	CalleeNumber string    `cel:"callee_number"`
	CallID       string    `cel:"call_id"`
	ReceivedAt   time.Time `cel:"received_at"`
}

// GenericFacts is what a rule on a source's generic kind sees as `event`: the body as `event.raw`.
type GenericFacts struct {
	Source     string         `cel:"source"`
	Kind       string         `cel:"kind"`
	Key        string         `cel:"key"`
	Raw        map[string]any `cel:"raw"`
	ReceivedAt time.Time      `cel:"received_at"`
}

// pdsFields are the fields of PDSFacts each PDS type carries.
var pdsFields = map[string][]string{
	OnPDSTaskStatus:    {"source", "task_id", "task_name", "group_name", "state", "time", "received_at"},
	OnPDSContactStatus: {"source", "task_id", "task_name", "group_name", "call_id", "callee_number", "state", "time", "nth_call", "received_at"},
}

var genericOnRE = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// factsType is the Go type of `event` for rules on on, or nil for rules on calls; generic says on is a
// source's generic kind. An on that no kind has is an error.
func factsType(on string) (t reflect.Type, generic bool, err error) {
	switch on {
	case OnCallCompleted, OnInfoCheckCompleted:
		return nil, false, nil
	case OnListCompleted:
		return reflect.TypeFor[ListCompletedFacts](), false, nil
	case OnStatusChanged:
		return reflect.TypeFor[StatusChangedFacts](), false, nil
	case OnQAResult:
		return reflect.TypeFor[QAResultFacts](), false, nil
	case OnPDSTaskStatus, OnPDSContactStatus, OnPDSAgentStatus:
		return reflect.TypeFor[PDSFacts](), false, nil
	case OnChatbotSessionEnded:
		return reflect.TypeFor[ChatbotSessionEndedFacts](), false, nil
	case OnRecallOverdue:
		return reflect.TypeFor[RecallOverdueFacts](), false, nil
	}
	if _, known := airudder.KindByOn(on); !known && genericOnRE.MatchString(on) {
		return reflect.TypeFor[GenericFacts](), true, nil
	}
	return nil, false, fmt.Errorf("%q is not a kind of callback: use %s, or a source's generic kind (its name with _ for -)",
		on, strings.Join(OnNames(), ", "))
}

// OnNames are the kinds rules can be written for, besides generic kinds.
func OnNames() []string {
	return []string{OnCallCompleted, OnInfoCheckCompleted, OnListCompleted, OnStatusChanged, OnQAResult,
		OnPDSTaskStatus, OnPDSContactStatus, OnPDSAgentStatus, OnChatbotSessionEnded, OnRecallOverdue}
}

// eventEnv is the CEL environment of conditions on events of type t: the variable `event`.
func eventEnv(t reflect.Type) (*cel.Env, error) {
	if t == reflect.TypeFor[GenericFacts]() {
		// Its body has no type: `event` is a map, checked by name only (checkEventFields).
		return cel.NewEnv(
			cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
			cel.CrossTypeNumericComparisons(true),
			ext.Strings(),
		)
	}
	return cel.NewEnv(
		ext.NativeTypes(ext.ParseStructTags(true), t),
		cel.Variable("event", cel.ObjectType("rules."+t.Name())),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
	)
}

// eventFieldNames are the names a condition on on may use after `event.`.
func eventFieldNames(on string, t reflect.Type) []string {
	if names, ok := pdsFields[on]; ok {
		return names
	}
	var out []string
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("cel"); name != "" {
			out = append(out, name)
		}
	}
	return out
}

var eventFieldRE = regexp.MustCompile(`\bevent\.([a-z_]+)`)

// checkEventFields refuses a field the kind does not carry (a PDS type shares its facts with the others).
func checkEventFields(on string, t reflect.Type, when string) string {
	names := eventFieldNames(on, t)
	for _, m := range eventFieldRE.FindAllStringSubmatch(when, -1) {
		if !slices.Contains(names, m[1]) {
			msg := fmt.Sprintf("%s events have no field %q; they have %s", on, m[1], strings.Join(names, ", "))
			if near := closest(m[1], names); near != "" {
				msg += "\n    did you mean event." + near + "?"
			}
			return msg
		}
	}
	return ""
}

// EventFactsOf turns an event into what rules on its kind see as `event`.
func EventFactsOf(ev airudder.Event) any {
	if o, ok := airudder.ReadRecallOverdue(ev); ok {
		return recallOverdueFacts(ev, o)
	}
	switch {
	case ev.ListCompleted != nil:
		lc := ev.ListCompleted
		f := &ListCompletedFacts{Source: ev.Source, WorkflowID: lc.WorkflowID, WorkflowName: lc.WorkflowName, CaseID: lc.CaseID,
			CalleeNumber: lc.CalleeNumber, TaskID: ev.TaskID, NodeCount: int64(len(lc.Rows)), NodeTypes: []string{},
			ReceivedAt: ev.ReceivedAt}
		for _, r := range lc.Rows {
			if r.NodeType == "call" {
				f.CallNodes++
			}
			if r.NodeType != "" && !slices.Contains(f.NodeTypes, r.NodeType) {
				f.NodeTypes = append(f.NodeTypes, r.NodeType)
			}
		}
		return f
	case ev.StatusChanged != nil:
		sc := ev.StatusChanged
		f := &StatusChangedFacts{Source: ev.Source, WorkflowID: sc.WorkflowID, WorkflowName: sc.WorkflowName, Status: sc.Status,
			TaskID: ev.TaskID, TaskStatuses: map[string]string{}, ReceivedAt: ev.ReceivedAt}
		for _, a := range sc.Actions {
			f.TaskStatuses[nameOr(a.NodeTaskName, a.NodeTaskID)] = a.TaskStatus
		}
		return f
	case ev.QAResult != nil:
		f := &QAResultFacts{Source: ev.Source, TaskID: ev.QAResult.TaskID, Recordings: int64(len(ev.QAResult.Details)),
			Hit: map[string][]string{}, Missed: map[string][]string{}, ReceivedAt: ev.ReceivedAt}
		for _, d := range ev.QAResult.Details {
			for _, cp := range d.CheckPoints {
				for _, r := range cp.Results {
					if r.Hit != nil && *r.Hit {
						f.Hit[cp.Type] = append(f.Hit[cp.Type], r.Name)
					} else {
						f.Missed[cp.Type] = append(f.Missed[cp.Type], r.Name)
					}
				}
			}
		}
		return f
	case ev.PDS != nil:
		p := ev.PDS
		f := &PDSFacts{Source: ev.Source, TaskID: p.TaskID, TaskName: p.TaskName, GroupName: p.GroupName, CallID: p.CallID,
			CalleeNumber: p.PhoneNumber, AgentName: p.AgentName, State: p.State, HangupReason: deref(p.HangupReason),
			NthCall: deref(p.NthCall), TalkRemarks: p.TalkRemarks, RecLink: p.RecLink, Results: map[string]string{},
			ReceivedAt: ev.ReceivedAt}
		if p.Timestamp != nil {
			f.Time = *p.Timestamp
		}
		for k, v := range p.CustomizeResults {
			f.Results[k] = v
		}
		if ev.Call != nil {
			f.Intention = ev.Call.Call.Intention
		}
		return f
	}
	if c := ev.ChatbotSessionEnded; c != nil {
		return &ChatbotSessionEndedFacts{Source: ev.Source, WorkflowID: c.WorkflowID, WorkflowName: c.WorkflowName,
			NodeTaskID: c.NodeTaskID, NodeTaskName: c.NodeTaskName, WabaTaskID: c.WabaTaskID, WfDetailUUID: c.WfDetailUUID,
			Timestamp: deref(c.Timestamp), Channel: c.Channel, ChannelID: c.ChannelID, CalleeNumber: c.Callee, CallID: c.CallID,
			ReceivedAt: ev.ReceivedAt}
	}
	f := &GenericFacts{Source: ev.Source, Kind: ev.Kind, Key: ev.Key, Raw: map[string]any{}, ReceivedAt: ev.ReceivedAt}
	_ = json.Unmarshal(ev.Raw, &f.Raw) // a generic kind's body is an object: ReadEvent checked it
	return f
}

func nameOr(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

// celInput is what a condition evaluates facts as: a generic kind's as a map (see eventEnv).
func celInput(facts any) any {
	if g, ok := facts.(*GenericFacts); ok {
		return factsMap(g)
	}
	return facts
}

// factsMap is what templates see of facts: its fields by their cel names.
func factsMap(facts any) map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(facts).Elem()
	for i := range v.NumField() {
		if name := v.Type().Field(i).Tag.Get("cel"); name != "" {
			out[name] = v.Field(i).Interface()
		}
	}
	return out
}

// exampleEvent is an event of on for checking templates when rules load: from the kind's example.
func exampleEvent(on string) (airudder.Event, bool) {
	if on == OnRecallOverdue {
		return exampleRecallOverdue(), true
	}
	k, ok := airudder.KindByOn(on)
	if !ok {
		return airudder.Event{}, false
	}
	for _, ex := range k.Examples {
		if ex.Name != on {
			continue
		}
		doc, err := airudder.Decode(ex.Body)
		if err != nil {
			return airudder.Event{}, false
		}
		ev, err := k.ReadEvent(doc, airudder.ParseOptions{})
		if err != nil {
			return airudder.Event{}, false
		}
		return ev.Received("airudder", time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)), true
	}
	return airudder.Event{}, false
}

// eventTemplateData is what templates of a rule on an event see: {{ .event.x }}, and {{ .call.x }} for
// what the event says of a call (callee_number, case_id, task_id, call_id, source), so that the
// defaults of re-call and cancel actions work for events too.
func eventTemplateData(ev airudder.Event, facts any, ruleID string, version int64, a *Action, key string) map[string]any {
	fields := a.Fields
	if fields == nil {
		fields = map[string]any{}
	}
	return map[string]any{
		"event": factsMap(facts),
		"call": map[string]any{"source": ev.Source, "callee_number": ev.CalleeNumber, "case_id": ev.CaseID,
			"task_id": ev.TaskID, "call_id": ev.CallID},
		"rule":         map[string]any{"id": ruleID, "version": version, "description": ""},
		"action":       map[string]any{"name": a.Name, "type": a.Type, "fields": fields},
		"follow_up_id": key,
	}
}

// eventFieldsProblem is what is wrong with the fields a condition on on names, if anything.
func eventFieldsProblem(on string, t reflect.Type, when string) string {
	if t == nil {
		return ""
	}
	return checkEventFields(on, t, when)
}
