package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Draft is a rules document as a form edits it: each rule's condition as a list of simple comparisons,
// its actions with their parameters and timing. ParseDraft reads a document into a Draft and BuildDraft
// writes a Draft back as the YAML the rules read, so that a form and the YAML stay in step.
//
// What the form cannot show is never dropped: a rule whose condition is CEL that is not a list of simple
// comparisons keeps it (Custom), and a rule with keys the form does not know is Locked and written back
// as it was (Raw).
type Draft struct {
	TimeZone string      `json:"time_zone"`
	Rules    []DraftRule `json:"rules"`
	// Locked says the form cannot show the document at all (Reason says why): only its YAML edits it.
	Locked bool   `json:"locked,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// DraftRule is one rule of a Draft.
type DraftRule struct {
	ID          string      `json:"id"`
	Description string      `json:"description"`
	Kind        string      `json:"kind"`
	Enabled     bool        `json:"enabled"`
	Conditions  []Condition `json:"conditions"`
	// When is the condition as written. When Custom, the conditions cannot say it and it is kept as CEL;
	// otherwise BuildDraft writes it from Conditions (keeping When's text when they still say the same).
	When    string        `json:"when"`
	Custom  bool          `json:"custom"`
	Actions []DraftAction `json:"actions"`
	// Raw is the rule's YAML as it was read: written back unchanged (comments and all) while the rule is
	// not changed, and always when the form cannot show all of it (Locked, with Reason).
	Raw    string `json:"raw,omitempty"`
	Locked bool   `json:"locked,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// DraftAction is one action of a DraftRule, with the keys of the YAML.
type DraftAction struct {
	Name          string            `json:"name,omitempty" yaml:"name,omitempty"`
	Type          string            `json:"type" yaml:"type"`
	Target        string            `json:"target,omitempty" yaml:"target,omitempty"`
	URL           string            `json:"url,omitempty" yaml:"url,omitempty"`
	Headers       map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	Fields        map[string]string `json:"fields,omitempty" yaml:"fields,omitempty"`
	Body          string            `json:"body,omitempty" yaml:"body,omitempty"`
	Text          string            `json:"text,omitempty" yaml:"text,omitempty"`
	WorkflowID    string            `json:"workflow_id,omitempty" yaml:"workflow_id,omitempty"`
	TemplateID    string            `json:"workflow_template_id,omitempty" yaml:"workflow_template_id,omitempty"`
	InstanceName  string            `json:"instance_name,omitempty" yaml:"instance_name,omitempty"`
	EndTime       string            `json:"end_time,omitempty" yaml:"end_time,omitempty"`
	AutoFinish    string            `json:"auto_finish,omitempty" yaml:"auto_finish,omitempty"`
	ExpectWithin  string            `json:"expect_within,omitempty" yaml:"expect_within,omitempty"`
	AskAfter      string            `json:"ask_after,omitempty" yaml:"ask_after,omitempty"`
	Callee        string            `json:"callee,omitempty" yaml:"callee,omitempty"`
	Variables     map[string]string `json:"variables,omitempty" yaml:"variables,omitempty"`
	TaskID        string            `json:"task_id,omitempty" yaml:"task_id,omitempty"`
	API           string            `json:"api,omitempty" yaml:"api,omitempty"`
	Delay         string            `json:"delay,omitempty" yaml:"delay,omitempty"`
	At            *DraftAt          `json:"at,omitempty" yaml:"at,omitempty"`
	Window        *DraftWindow      `json:"window,omitempty" yaml:"window,omitempty"`
	MaxPerDay     int               `json:"max_per_day,omitempty" yaml:"max_per_day,omitempty"`
	OnCap         string            `json:"on_cap,omitempty" yaml:"on_cap,omitempty"`
	ReachesPerson *bool             `json:"reaches_person,omitempty" yaml:"reaches_person,omitempty"`
	OnUnknown     string            `json:"on_unknown,omitempty" yaml:"on_unknown,omitempty"`
}

// DraftAt is an action's `at`.
type DraftAt struct {
	Date       string `json:"date" yaml:"date"`
	DaysBefore int    `json:"days_before,omitempty" yaml:"days_before,omitempty"`
	DaysAfter  int    `json:"days_after,omitempty" yaml:"days_after,omitempty"`
	Time       string `json:"time,omitempty" yaml:"time,omitempty"`
	TimeZone   string `json:"time_zone,omitempty" yaml:"time_zone,omitempty"`
}

// DraftWindow is an action's calling window.
type DraftWindow struct {
	Start    string   `json:"start" yaml:"start"`
	End      string   `json:"end" yaml:"end"`
	Days     []string `json:"days,omitempty" yaml:"days,omitempty,flow"`
	TimeZone string   `json:"time_zone,omitempty" yaml:"time_zone,omitempty"`
}

// ruleYAML is a rule's keys as a form edits them.
type ruleYAML struct {
	ID          string        `yaml:"id"`
	Description string        `yaml:"description,omitempty"`
	On          string        `yaml:"on,omitempty"`
	When        string        `yaml:"when,omitempty"`
	Enabled     *bool         `yaml:"enabled,omitempty"`
	Actions     []DraftAction `yaml:"actions"`
}

// ParseDraft reads a rules document as a form shows it. It does not check the document (Compile does);
// a document whose YAML does not read is Locked.
func ParseDraft(src []byte) Draft {
	if len(src) > MaxDocumentBytes {
		return Draft{Locked: true, Reason: fmt.Sprintf("the document is longer than %d bytes", MaxDocumentBytes)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return Draft{Locked: true, Reason: "the YAML does not read: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	d := Draft{Rules: []DraftRule{}}
	if len(root.Content) == 0 {
		return d
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return Draft{Locked: true, Reason: "the document is not a mapping of time_zone and rules"}
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i].Value, doc.Content[i+1]
		switch {
		case key == "time_zone" && val.Kind == yaml.ScalarNode:
			d.TimeZone = val.Value
		case key == "rules" && val.Kind == yaml.SequenceNode && len(val.Content) > MaxRules:
			return Draft{Locked: true, Reason: fmt.Sprintf("the document has more than %d rules", MaxRules)}
		case key == "rules" && val.Kind == yaml.SequenceNode:
			for _, rn := range val.Content {
				d.Rules = append(d.Rules, parseRule(rn))
			}
		default:
			return Draft{Locked: true, Reason: fmt.Sprintf("the form does not know the document's key %q", key)}
		}
	}
	return d
}

// parseRule reads one rule's node, locking it when the form cannot show all of it.
func parseRule(n *yaml.Node) DraftRule {
	raw, _ := yaml.Marshal(n)
	locked := func(reason string) DraftRule {
		r := DraftRule{Raw: string(raw), Locked: true, Reason: reason, Enabled: true}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "id":
					r.ID = n.Content[i+1].Value
				case "description":
					r.Description = n.Content[i+1].Value
				case "when":
					r.When = n.Content[i+1].Value
				}
			}
		}
		return r
	}
	var ry ruleYAML
	if err := n.Decode(&ry); err != nil {
		return locked("the form cannot read it: " + strings.TrimPrefix(err.Error(), "yaml: "))
	}
	r, ok := draftRule(ry)
	if !ok {
		return locked(fmt.Sprintf("it is for %q, a kind of callback the form does not know", ry.On))
	}
	r.Raw = string(raw)
	if missing := notShown(n, ry); missing != "" {
		return locked("the form cannot show " + missing)
	}
	return r
}

func draftRule(ry ruleYAML) (DraftRule, bool) {
	kind, ok := KindByName(cmpOr(ry.On, KindCallCompleted))
	if !ok {
		return DraftRule{}, false
	}
	r := DraftRule{
		ID: ry.ID, Description: ry.Description, Kind: kind.Name, Enabled: ry.Enabled == nil || *ry.Enabled,
		When: ry.When, Actions: ry.Actions,
	}
	if r.Actions == nil {
		r.Actions = []DraftAction{}
	}
	if conds, ok := ParseConditions(kind, ry.When); ok && strings.TrimSpace(ry.When) != "" {
		r.Conditions = conds
	} else {
		r.Conditions, r.Custom = []Condition{}, true
	}
	return r, true
}

// notShown names what of a rule's node the form model leaves out (empty when it shows everything): the
// model written back must read the same as the node, but for the condition's spelling.
func notShown(n *yaml.Node, ry ruleYAML) string {
	var orig map[string]any
	_ = n.Decode(&orig)
	back, err := yaml.Marshal(ry)
	if err != nil {
		return "it"
	}
	var again map[string]any
	_ = yaml.Unmarshal(back, &again)
	a, b := normalise(orig), normalise(again)
	am, _ := a.(map[string]any)
	bm, _ := b.(map[string]any)
	var keys []string
	for k, v := range am {
		if !reflect.DeepEqual(v, bm[k]) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return ""
	}
	return "its " + strings.Join(keys, ", ")
}

// normalise makes two decodings of YAML comparable: scalars as text, empty values and defaults left out.
func normalise(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			n := normalise(e)
			if n == nil || (k == "enabled" && n == "true") || k == "when" {
				continue
			}
			out[k] = n
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(v) == 0 {
			return nil
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalise(e)
		}
		return out
	case nil:
		return nil
	default:
		s := fmt.Sprint(v)
		if s == "" || s == "0" || s == "false" {
			return nil
		}
		return s
	}
}

// Located is a problem of a document built from a Draft, placed on the form: the rule (its index, -1 for
// the document) and the path of the form's field, such as rules[0].actions[1].at.time.
type Located struct {
	Problem
	RuleIndex int    `json:"rule_index"`
	Path      string `json:"path"`
}

// BuildDraft writes a Draft as a rules document and checks it as Compile does, returning the document,
// the compiled rules (nil when anything is wrong) and every problem placed on the form. What the form
// cannot write (a condition without a value, a delay that does not read) leaves a document that the rules
// refuse, so that a draft with a problem is never switched on in part.
func BuildDraft(d Draft, opts Options) ([]byte, *Set, []Located) {
	var formProblems []Located
	root := &yaml.Node{Kind: yaml.MappingNode}
	if d.TimeZone != "" {
		root.Content = append(root.Content, scalar("time_zone"), scalar(d.TimeZone))
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	skipWhen, skipUnplaced := map[int]bool{}, false
	for i, r := range d.Rules {
		n, problems := buildRule(r)
		for _, l := range problems {
			l.RuleIndex, l.Path = i, fmt.Sprintf("rules[%d]%s", i, l.Path)
			formProblems = append(formProblems, l)
			skipWhen[i] = skipWhen[i] || l.Field == "when"
			skipUnplaced = skipUnplaced || l.Field != "when"
		}
		seq.Content = append(seq.Content, n)
	}
	root.Content = append(root.Content, scalar("rules"), seq)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, nil, []Located{{Problem: Problem{Message: err.Error()}, RuleIndex: -1}}
	}
	_ = enc.Close()
	src := b.Bytes()
	set, err := Compile(src, opts)
	var refused *Error
	if errors.As(err, &refused) {
		for _, l := range Locate(src, refused.Problems) {
			// Said already, where the form can show it.
			if (l.Field == "when" && skipWhen[l.RuleIndex]) || (l.Line == 0 && l.Rule == "" && skipUnplaced) {
				continue
			}
			formProblems = append(formProblems, l)
		}
	} else if err != nil {
		formProblems = append(formProblems, Located{Problem: Problem{Message: err.Error()}, RuleIndex: -1})
	}
	if len(formProblems) > 0 {
		set = nil
	}
	return src, set, formProblems
}

// buildRule is a rule's node: its Raw text while it is unchanged or Locked, else written from the form.
// It returns the problems the form finds itself (conditions that cannot be written, a delay that does not
// read), with paths relative to the rule.
func buildRule(r DraftRule) (*yaml.Node, []Located) {
	if r.Raw != "" {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(r.Raw), &n); err == nil && len(n.Content) == 1 {
			if r.Locked || sameRule(parseRule(n.Content[0]), r) {
				return n.Content[0], nil
			}
		}
	}
	kind, ok := KindByName(cmpOr(r.Kind, KindCallCompleted))
	if !ok {
		kind = Kinds()[0]
	}
	ry := ruleYAML{ID: r.ID, Description: r.Description, Actions: r.Actions}
	if kind.Name != KindCallCompleted {
		ry.On = kind.Name
	}
	if !r.Enabled {
		ry.Enabled = new(bool)
	}
	problems := map[int]string{}
	switch {
	case r.Custom:
		ry.When = r.When
	default:
		when, bad := ConditionsCEL(kind, r.Conditions)
		maps.Copy(problems, bad)
		// The text as written, when it still says what the conditions say.
		if was, ok := ParseConditions(kind, r.When); ok && len(bad) == 0 && reflect.DeepEqual(was, r.Conditions) && strings.TrimSpace(r.When) != "" {
			when = r.When
		}
		ry.When = when
	}
	var n yaml.Node
	if err := n.Encode(ry); err != nil {
		return scalar(""), []Located{{Problem: Problem{Rule: r.ID, Message: err.Error()}}}
	}
	numberTemplateIDs(&n)
	var out []Located
	for j := range r.Conditions {
		if msg, ok := problems[j]; ok {
			out = append(out, Located{Problem: Problem{Rule: r.ID, Field: "when", Message: msg}, Path: fmt.Sprintf(".conditions[%d]", j)})
		}
	}
	// A delay that does not read makes the YAML refuse to decode, which says no line; say where it is.
	for k, a := range r.Actions {
		if _, err := ParseDuration(a.Delay); a.Delay != "" && err != nil {
			out = append(out, Located{Problem: Problem{Rule: r.ID, Field: fmt.Sprintf("actions[%d]", k), Message: "delay: " + err.Error()},
				Path: fmt.Sprintf(".actions[%d].delay", k)})
		}
	}
	return &n, out
}

// numberTemplateIDs writes a workflow_template_id that is a number as one (4021, not "4021"), as the
// rules are written by hand: it is Airudder's template number.
func numberTemplateIDs(n *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "workflow_template_id" && v.Kind == yaml.ScalarNode {
			if _, err := strconv.ParseUint(v.Value, 10, 63); err == nil {
				v.Tag, v.Style = "!!int", 0
			}
		}
	}
	for _, c := range n.Content {
		numberTemplateIDs(c)
	}
}

// sameRule reports whether two drafts of a rule say the same, leaving aside how they were read.
func sameRule(a, b DraftRule) bool {
	a.Raw, b.Raw, a.Locked, b.Locked, a.Reason, b.Reason = "", "", false, false, "", ""
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Locate places the problems of a document on a form: the rule each belongs to (by its line) and the
// form field it concerns, from its Field and the key its message starts with (`at: time: …` is
// actions[0].at.time), or, for a problem of the YAML itself, the key on its line.
func Locate(src []byte, problems []Problem) []Located {
	var root yaml.Node
	_ = yaml.Unmarshal(src, &root)
	starts := ruleLines(&root)
	keys := keyLines(&root)
	out := make([]Located, 0, len(problems))
	for _, p := range problems {
		l := Located{Problem: p, RuleIndex: -1}
		for i, rl := range starts {
			if p.Line >= rl.rule {
				l.RuleIndex = i
			}
		}
		rule := fmt.Sprintf("rules[%d]", l.RuleIndex)
		switch {
		case p.Field == "time_zone":
			l.Path, l.RuleIndex = "time_zone", -1
		case p.Field == "when" || p.Field == "id" || p.Field == "actions":
			l.Path = rule + "." + p.Field
		case strings.HasPrefix(p.Field, "actions["):
			l.Path = rule + "." + p.Field + actionKey(p.Message)
		case p.Line > 0:
			l.Path = keys[p.Line]
		}
		if l.RuleIndex < 0 && !strings.HasPrefix(l.Path, "time_zone") {
			l.Path = ""
		}
		out = append(out, l)
	}
	return out
}

// actionKeyRE reads the key a message of an action's problem starts with: "at: time: …", "window: start:
// …", "target \"x\" is not configured", "type is required".
var actionKeyRE = regexp.MustCompile(`^([a-z_]+)(?:\.[A-Za-z0-9_-]+)?(?::| |$)(?:\s*([a-z_]+)(?::| ))?`)

var actionKeys = map[string][]string{
	"at":     {"date", "days_before", "days_after", "time", "time_zone"},
	"window": {"start", "end", "days", "time_zone"},
}

func actionKey(msg string) string {
	switch {
	case strings.HasPrefix(msg, "give a target"):
		return ".target"
	case strings.HasPrefix(msg, "give workflow_id"):
		return ".workflow_template_id"
	case strings.HasPrefix(msg, "at: give days_before"):
		return ".at.days_before"
	}
	sm := actionKeyRE.FindStringSubmatch(msg)
	if sm == nil || !slices.Contains(actionKeyNames(), sm[1]) {
		return ""
	}
	key := "." + sm[1]
	if sub := actionKeys[sm[1]]; sm[2] != "" && slices.Contains(sub, sm[2]) {
		key += "." + sm[2]
	}
	return key
}

// actionKeyNames are the YAML keys of an action.
func actionKeyNames() []string {
	t := reflect.TypeFor[DraftAction]()
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		out = append(out, name)
	}
	return out
}

// keyLines maps each line of a rules document to the form path of the deepest key on it.
func keyLines(root *yaml.Node) map[int]string {
	out := map[int]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				out[n.Content[i].Line] = p
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := path + "[" + strconv.Itoa(i) + "]"
				if _, ok := out[c.Line]; !ok || c.Kind != yaml.MappingNode {
					out[c.Line] = p
				}
				walk(c, p)
			}
		}
	}
	walk(root, "")
	return out
}

// Param is one parameter of an action type, as a form asks for it.
type Param struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Type is text, template (a text that may insert fields), json (a template giving JSON), target (a
	// configured endpoint's name), choice (one of Choices), map (names and values), time (HH:MM) or
	// number.
	Type        string   `json:"type"`
	Description string   `json:"description,omitempty"`
	Choices     []string `json:"choices,omitempty"`
	Placeholder string   `json:"placeholder,omitempty"`
}

// ActionType is one entry of the catalogue of actions, with the parameters a form asks for.
type ActionType struct {
	Type   string  `json:"type"`
	Label  string  `json:"label"`
	Params []Param `json:"params"`
}

// ActionTypes is the catalogue of actions as a form offers it.
func ActionTypes() []ActionType {
	target := Param{Name: "target", Label: "Send to", Type: "target", Description: "a configured endpoint (its URL and secret stay in the configuration)"}
	url := Param{Name: "url", Label: "Or a URL", Type: "text", Description: "prefer a configured target: a URL here can be read by everyone who reads the rules"}
	callee := Param{Name: "callee", Label: "Number", Type: "template", Placeholder: "{{ .call.callee_number }}", Description: "by default the call's number"}
	return []ActionType{
		{Type: TypeAirudderRecall, Label: "Re-call through Airudder", Params: []Param{
			{Name: "workflow_template_id", Label: "Airudder template number", Type: "number", Description: "start a new instance of this template (or give a running workflow instead)"},
			{Name: "workflow_id", Label: "Running Airudder workflow", Type: "text", Description: "add the callee to this running workflow"},
			{Name: "instance_name", Label: "Instance name", Type: "template", Placeholder: "rudderhook {{ .rule.id }} {{ .call.case_id }}"},
			{Name: "end_time", Label: "Stop calling at", Type: "time", Description: "by default the end of the calling window"},
			{Name: "auto_finish", Label: "Finish by itself", Type: "choice", Choices: []string{"1", "2"},
				Description: "Airudder's auto_finish for the new instance: 1 or 2 (Airudder's default, 2, when not set)"},
			{Name: "variables", Label: "Variables", Type: "map", Description: "one per line: name: value (values may insert fields)"},
			callee,
			{Name: "expect_within", Label: "Expect its call within", Type: "text", Placeholder: "24h",
				Description: "after this long without a completed call the re-call is overdue, and rules on recall_overdue run"},
			{Name: "ask_after", Label: "Ask Airudder after", Type: "text", Placeholder: "10m",
				Description: "when an attempt's outcome is unknown, ask Airudder this long after whether the callee was put in"},
		}},
		{Type: TypeAirudderCancelContact, Label: "Cancel the task's other calls to the number", Params: []Param{
			{Name: "api", Label: "Task kind", Type: "choice", Choices: []string{CancelAPIWorkflow, CancelAPIPDS}, Description: "workflow (default) or pds (predictive dialer)"},
			{Name: "task_id", Label: "Task", Type: "template", Placeholder: "{{ .call.task_id }}"},
			callee,
		}},
		{Type: TypeWebhook, Label: "Send to a CRM or endpoint (webhook)", Params: []Param{
			target, url,
			{Name: "fields", Label: "Fields", Type: "map", Description: "values sent in the default body, one per line: name: value"},
			{Name: "body", Label: "Body", Type: "json", Description: "a template giving JSON; by default the follow-up, the rule, the fields and the whole call"},
		}},
		{Type: TypeNotify, Label: "Message a team channel", Params: []Param{
			target, url,
			{Name: "text", Label: "Message", Type: "template", Placeholder: "Case {{ .call.case_id }} needs a follow-up."},
		}},
		{Type: TypeArchiveRecording, Label: "Archive the call's recording", Params: []Param{}},
	}
}

// AtDates are the dates of a call that an action's `at` may be relative to, in the order a form offers
// them.
func AtDates() []string {
	order := []string{"due_date", "borrowed_date", "call_start_time", "call_end_time", "received_at"}
	out := make([]string, 0, len(atDates))
	for _, d := range order {
		if _, ok := atDates[d]; ok {
			out = append(out, d)
		}
	}
	return out
}
