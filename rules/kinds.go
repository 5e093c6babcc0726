package rules

import (
	"reflect"
	"slices"
	"strings"
	"time"
)

// KindCallCompleted is the kind of callback every rule is for today: Airudder's call completion.
const KindCallCompleted = "call_completed"

// Field types, as a form offers operators for them.
const (
	FieldText     = "text"
	FieldNumber   = "number"
	FieldTime     = "time"
	FieldDuration = "duration"
	FieldMap      = "map" // a map of text: NER slots, event labels, variables
)

// Kind is a kind of callback that rules can be written for: its name (what a rule's `on:` says), how a
// person reads it, the variable its conditions and templates see, and its fields.
type Kind struct {
	Name     string  `json:"name"`
	Label    string  `json:"label"`
	Variable string  `json:"variable"`
	Fields   []Field `json:"fields"`
}

// Field is one field a condition can compare: `call.ring_type`.
type Field struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Type        string `json:"type"`
	Description string `json:"description"`
	// Values are the values the field takes by Airudder's documentation, when it lists them.
	Values []string `json:"values,omitempty"`
	// Suggest says the values seen in stored callbacks are worth offering (an intention, a ring type),
	// unlike those of a field that is different on every call (a number, a name).
	Suggest bool `json:"suggest,omitempty"`
}

// Kinds lists the kinds of callback that rules can be written for, with their fields. It is the one
// place the rules page (and anything else that builds rules) learns them from.
//
// Calls (call completion, info check) are read as `call`; the other typed kinds as `event`, with the
// fields their type carries. A source's generic kinds are not listed: their rules read `event.raw`, which
// only CEL can say, so the page shows them as YAML.
func Kinds() []Kind {
	out := []Kind{
		{Name: KindCallCompleted, Label: "Call completed", Variable: "call", Fields: callFields()},
		{Name: OnInfoCheckCompleted, Label: "Info check completed", Variable: "call", Fields: callFields()},
	}
	for _, k := range []struct{ on, label string }{
		{OnListCompleted, "List completed"},
		{OnStatusChanged, "Workflow status changed"},
		{OnQAResult, "QA result"},
		{OnPDSTaskStatus, "Dialer task status"},
		{OnPDSContactStatus, "Dialer contact status"},
		{OnPDSAgentStatus, "Dialer agent status (a call's result)"},
		{OnChatbotSessionEnded, "Chatbot session ended"},
		{OnRecallOverdue, "Re-call overdue (its call did not complete in time)"},
	} {
		out = append(out, Kind{Name: k.on, Label: k.label, Variable: "event", Fields: eventFields(k.on)})
	}
	return out
}

// eventFieldInfo says how a person reads the fields of the event kinds' facts (see events.go); a field
// not listed reads as its name.
var eventFieldInfo = map[string]Field{
	"source":        {Label: "source", Description: "the receiver configuration it came in through"},
	"workflow_id":   {Label: "Airudder workflow ID", Description: "workflow_id"},
	"workflow_name": {Label: "Airudder workflow", Description: "workflow_name"},
	"case_id":       {Label: "case ID", Description: "case_id"},
	"callee_number": {Label: "callee's number", Description: "the number"},
	"task_id":       {Label: "task ID", Description: "the task's ID"},
	"task_name":     {Label: "task", Description: "the task's name"},
	"group_name":    {Label: "group", Description: "the dialer group's name"},
	"node_count":    {Label: "nodes", Description: "how many nodes the list ran"},
	"call_nodes":    {Label: "call nodes", Description: "how many of them were calls"},
	"status":        {Label: "status", Description: "the workflow's new status"},
	"task_statuses": {Label: "node task status", Description: "the node tasks' statuses by name"},
	"recordings":    {Label: "recordings", Description: "how many recordings were checked"},
	"hit":           {Label: "check points hit", Description: "names of the check points hit, by type (SOP, Negative)"},
	"missed":        {Label: "check points missed", Description: "names of the check points missed, by type"},
	"call_id":       {Label: "call ID", Description: "callid"},
	"agent_name":    {Label: "agent", Description: "the agent's name"},
	"state":         {Label: "state", Description: "State"},
	"time":          {Label: "event time", Description: "the event's timestamp"},
	"hangup_reason": {Label: "hang-up reason", Description: "hangupReason"},
	"nth_call":      {Label: "call number", Description: "which call to the contact this was"},
	"talk_remarks":  {Label: "agent's remarks", Description: "talkremarks"},
	"rec_link":      {Label: "recording", Description: "recLink"},
	"results":       {Label: "agent's result", Description: "customizeResults, e.g. PTP Date"},
	"intention":     {Label: "intention", Description: "the deepest level of the agent's result"},
	"received_at":   {Label: "received time", Description: "when rudderhook received it"},
	// recall_overdue's
	"rule_id":               {Label: "rule", Description: "the rule whose re-call is overdue"},
	"action":                {Label: "action", Description: "the re-call's action"},
	"follow_up_key":         {Label: "follow-up", Description: "the re-call's idempotency key"},
	"airudder_workflow_id":  {Label: "re-call's Airudder workflow", Description: "the workflow the callee was put into"},
	"requested_at":          {Label: "re-called at", Description: "when Airudder took the re-call"},
	"deadline":              {Label: "deadline", Description: "when its call should have completed (expect_within)"},
	"call_key":              {Label: "call key", Description: "the re-called call's key"},
	"intention_description": {Label: "intention", Description: "the re-called call's intention description"},
	"node_task_id":          {Label: "node ID", Description: "nodetask_id"},
	"node_task_name":        {Label: "node", Description: "nodetask_name"},
	"waba_task_id":          {Label: "WhatsApp task ID", Description: "waba_task_id"},
	"wfdetail_uuid":         {Label: "workflow detail", Description: "wfdetail_uuid: the list entry's session"},
	"timestamp":             {Label: "timestamp", Description: "timestamp, an integer as Airudder sends it"},
	"channel":               {Label: "channel", Description: "channel (whatsapp, …)"},
	"channel_id":            {Label: "channel ID", Description: "channel_id"},
}

// eventFields are the fields a rule on on can compare, in the order of its facts type, described by
// eventFieldInfo. Lists (a list completion's node types) are left to CEL.
func eventFields(on string) []Field {
	t, _, err := factsType(on)
	if err != nil || t == nil {
		return nil
	}
	carried, limited := pdsFields[on]
	var out []Field
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("cel")
		if name == "" || t.Field(i).Type.Kind() == reflect.Slice || (limited && !slices.Contains(carried, name)) {
			continue
		}
		f := eventFieldInfo[name]
		f.Name, f.Type = name, fieldType(t.Field(i).Type)
		if f.Label == "" {
			f.Label = strings.ReplaceAll(name, "_", " ")
		}
		out = append(out, f)
	}
	return out
}

// KindByName is the kind of that name, if it exists.
func KindByName(name string) (Kind, bool) {
	for _, k := range Kinds() {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Field is the kind's field of that name, if it has one.
func (k Kind) Field(name string) (Field, bool) {
	for _, f := range k.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// callFieldInfo says how a person reads each field of Call; the field's type comes from Call itself.
var callFieldInfo = map[string]Field{
	"source":                {Label: "source", Description: "the receiver configuration the call came in through", Suggest: true},
	"key":                   {Label: "call key", Description: "CallID, or {TaskID}/{id} when CallID is empty"},
	"call_id":               {Label: "call ID", Description: "Airudder's CallID"},
	"id":                    {Label: "detail id", Description: "Airudder's numeric id of the call"},
	"case_id":               {Label: "case ID", Description: "CaseID"},
	"callee_number":         {Label: "callee's number", Description: "CalleeNumber"},
	"callee_name":           {Label: "callee's name", Description: "CalleeName"},
	"callee_gender":         {Label: "callee's gender", Description: "CalleeGender", Suggest: true},
	"caller_number":         {Label: "caller number", Description: "caller_number"},
	"robot_id":              {Label: "robot", Description: "RobotID", Suggest: true},
	"status":                {Label: "call status", Description: "Status", Values: []string{"created", "pending", "finished", "cancelled", "failed"}, Suggest: true},
	"intention":             {Label: "intention code", Description: "Intention, a code such as E", Suggest: true},
	"intention_description": {Label: "intention", Description: "intention_description, such as Promise To Pay", Suggest: true},
	"ring_type":             {Label: "ring type", Description: "RingType: how the call rang", Values: []string{"busy", "cantuse", "holdline", "switchoff", "outofarea", "unregister", "wrongnum", "notmatch", "normal", "null"}, Suggest: true},
	"hangup_type":           {Label: "hang-up", Description: "HangupType: who ended the call", Values: []string{"ByCallee", "ByRobot", "Canceled"}, Suggest: true},
	"call_times":            {Label: "call times", Description: "CallTimes"},
	"talk_round":            {Label: "talk rounds", Description: "TalkRound: 0 when no conversation happened"},
	"ring_time":             {Label: "ring time (s)", Description: "RingTime"},
	"call_start_time":       {Label: "start time", Description: "CallStartTime"},
	"call_end_time":         {Label: "end time", Description: "CallEndTime"},
	"duration":              {Label: "duration", Description: "end − start, e.g. 30s, 2m"},
	"received_at":           {Label: "received time", Description: "when rudderhook received it"},
	"borrowed_date":         {Label: "borrowed date", Description: "BorrowedDate"},
	"due_date":              {Label: "due date", Description: "DueDate"},
	"borrowed_amount":       {Label: "borrowed amount", Description: "BorrowedAmount"},
	"total_owing_amount":    {Label: "amount owed", Description: "TotalOwingAmount"},
	"currency":              {Label: "currency", Description: "CurrencyUnit", Suggest: true},
	"platform_name":         {Label: "platform", Description: "PlatformName", Suggest: true},
	"comments":              {Label: "comments", Description: "Comments"},
	"extra_a":               {Label: "extra A", Description: "ExtraA"},
	"extra_b":               {Label: "extra B", Description: "ExtraB"},
	"extra_c":               {Label: "extra C", Description: "ExtraC"},
	"ask_whatsapp":          {Label: "asked for WhatsApp", Description: "AskWhatsAPP", Suggest: true},
	"asr_ptp":               {Label: "promise heard", Description: "AsrPTP", Suggest: true},
	"ner_slots":             {Label: "NER slot", Description: "NerSlots: what the bot recognised"},
	"event_label":           {Label: "event label", Description: "EventLabel"},
	"multi_intention":       {Label: "multi-intention", Description: "Multi_intention"},
	"variables":             {Label: "workflow variable", Description: "Variables of the Airudder workflow"},
	"transcript":            {Label: "transcript", Description: "every line of AsrResult, robot and callee"},
	"redial_count":          {Label: "redials", Description: "how many entries RedailCall has"},
	"parse_notes":           {Label: "parse notes", Description: "fields whose text did not fit their type, each with why (e.g. \"DueDate\" in call.parse_notes)"},
	"workflow_name":         {Label: "Airudder workflow", Description: "workflow_name", Suggest: true},
	"workflow_id":           {Label: "Airudder workflow ID", Description: "workflow_id"},
	"task_id":               {Label: "task ID", Description: "TaskID"},
	"task_name":             {Label: "task", Description: "TaskName", Suggest: true},
	"nodetask_name":         {Label: "node task", Description: "nodetask_name", Suggest: true},
}

// callFields are Call's fields in their order, typed from Call and described by callFieldInfo.
func callFields() []Field {
	t := reflect.TypeFor[Call]()
	var out []Field
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("cel")
		if name == "" {
			continue
		}
		f := callFieldInfo[name]
		f.Name, f.Type = name, fieldType(t.Field(i).Type)
		if f.Label == "" {
			f.Label = name
		}
		out = append(out, f)
	}
	return out
}

func fieldType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return FieldTime
	case t == reflect.TypeFor[time.Duration]():
		return FieldDuration
	case t.Kind() == reflect.Map:
		return FieldMap
	case t.Kind() == reflect.String:
		return FieldText
	default:
		return FieldNumber
	}
}
