// Package rules is how business teams say what happens after a call: a YAML document of rules, each a
// condition in CEL over the call's fields (`call.intention == "PTP" && has(call.due_date)`) and actions
// picked from a fixed catalogue (webhook, airudder_recall, airudder_cancel_contact, notify,
// archive_recording) with their parameters and timing.
//
// A document is compiled and checked as a whole when it is loaded, so a mistake is reported with the
// rule, the line and the column, and a bad document never replaces a good one. Compiled rules turn a call
// into a plan of follow-ups (Plan); the plan is data that workflows carry out.
//
// Like airudder, it is a domain package: it does no I/O, and api, activities and workflows all import it.
package rules

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"gopkg.in/yaml.v3"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/egress"
)

// Action types: the catalogue.
const (
	TypeWebhook        = "webhook"
	TypeAirudderRecall = "airudder_recall"
	// TypeAirudderCancelContact stops the remaining calls of a task to one number (the person paid or
	// promised to).
	TypeAirudderCancelContact = "airudder_cancel_contact"
	TypeNotify                = "notify"
	// TypeArchiveRecording downloads the call's recording (its link, or Airudder's answer for its call
	// ID) to the configured bucket.
	TypeArchiveRecording = "archive_recording"
)

// catalogue is every action type, in the order messages list them.
var catalogue = []string{TypeWebhook, TypeAirudderRecall, TypeAirudderCancelContact, TypeNotify, TypeArchiveRecording}

// What an action does when an attempt's outcome is unknown (it may have been carried out): on_unknown.
const (
	// OnUnknownReview stops and waits for an operator: the follow-up ends as needs_review. The default
	// for actions that reach a person, so that a person is never called twice for one reason.
	OnUnknownReview = "review"
	// OnUnknownRetry repeats the attempt, as for any other passing failure: at-least-once. The default
	// for actions that do not reach a person (webhooks carry webhook-id, so a target drops repeats).
	OnUnknownRetry = "retry"
)

// Cancel APIs: which of Airudder's API families a task belongs to.
const (
	CancelAPIWorkflow = "workflow" // a workflow task (the call-completion callback's TaskID)
	CancelAPIPDS      = "pds"      // a predictive-dialer (PDS) task
)

// Set is a compiled rules document.
type Set struct {
	// Version is the number the store gave this document (0 before it is stored).
	Version  int64
	TimeZone string
	Rules    []*Rule
	// Digest identifies the document's text, so loading the same text again is not a new version.
	Digest string
}

// Rule is one compiled rule.
type Rule struct {
	ID string
	// On is the kind of callback the rule is for (OnCallCompleted by default; see OnNames).
	On          string
	Description string
	When        string
	Enabled     bool
	Actions     []*Action
	Line        int

	program cel.Program
}

// Action is one compiled action of a rule.
type Action struct {
	Name string
	Type string
	// Target names a configured endpoint (URL and secret); URL is given directly instead.
	Target  string
	URL     string
	Headers map[string]string
	// Fields are the action's own values, sent in a webhook's default body.
	Fields map[string]any

	Timing
	Effect

	body, text, callee, instanceName, taskID *boundedTemplate
	variables                                map[string]*boundedTemplate
	airudderWorkflowID, templateID           string
	// endTime is createinstance's end_time as a time of day ("" for the end of the calling window).
	endTime string
	// autoFinish is createinstance's auto_finish (0: not sent, Airudder's default).
	autoFinish int
	// cancelAPI is the API family of an airudder_cancel_contact's task.
	cancelAPI string
	// expectWithin and askAfter are an airudder_recall's expect_within and ask_after.
	expectWithin, askAfter time.Duration
	line                   int
}

// Effect says what an action does to the world when its outcome is in doubt.
type Effect struct {
	// ReachesPerson says the action calls, texts or otherwise reaches the callee: its daily cap counts
	// every call the callee received, and an attempt of unknown outcome is not repeated by default.
	ReachesPerson bool
	// OnUnknown is OnUnknownReview or OnUnknownRetry.
	OnUnknown string
}

// Timing says when an action may run.
type Timing struct {
	Delay     time.Duration
	At        *At
	Window    *Window
	MaxPerDay int
	// SkipWhenCapped drops an action that the daily cap stops; otherwise it waits for the next day.
	SkipWhenCapped bool
}

// Problem is one thing wrong with a rules document.
type Problem struct {
	Line int    `json:"line,omitempty"`
	Rule string `json:"rule,omitempty"`
	// Action is the name of the action at fault, for a problem of an action (whose Field is actions[i]).
	Action  string `json:"action,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", p.Rule)
	}
	switch {
	case p.Action != "":
		fmt.Fprintf(&b, "action %q: ", p.Action)
	case p.Field != "":
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is a refused document: every problem found, not only the first.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	return "the rules were refused:\n  " + strings.Join(e.Lines(), "\n  ")
}

// Lines are the problems, one line each.
func (e *Error) Lines() []string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return lines
}

// Options are what compiling checks a document against.
type Options struct {
	// Targets are the configured target names; nil means targets are not checked (e.g. `rules lint` with
	// no configuration at hand).
	Targets map[string]bool
	// URLs is what a url: written in a rule may name. The zero value refuses loopback, private,
	// link-local and metadata addresses written literally, and names that always mean them (localhost,
	// metadata.google.internal); nothing is resolved here, since DNS may answer differently when the
	// request is made: the worker's dialer checks the address it connects to, whatever the rules say.
	URLs egress.Policy
	// Stored says the document is a version saved before (the rules in force, read back): its url:s
	// are not checked again, so a version saved under an earlier policy keeps planning; the worker
	// refuses what it may not reach, follow-up by follow-up, with the reason.
	Stored bool
}

// document is the YAML shape.
type document struct {
	TimeZone string    `yaml:"time_zone"`
	Rules    []ruleDoc `yaml:"rules"`
}

type ruleDoc struct {
	ID          string      `yaml:"id"`
	On          string      `yaml:"on"`
	Description string      `yaml:"description"`
	When        string      `yaml:"when"`
	Enabled     *bool       `yaml:"enabled"`
	Actions     []actionDoc `yaml:"actions"`
}

type actionDoc struct {
	Name      string            `yaml:"name"`
	Type      string            `yaml:"type"`
	Target    string            `yaml:"target"`
	URL       string            `yaml:"url"`
	Headers   map[string]string `yaml:"headers"`
	Fields    map[string]any    `yaml:"fields"`
	Body      string            `yaml:"body"`
	Text      string            `yaml:"text"`
	Workflow  string            `yaml:"workflow_id"`
	Template  string            `yaml:"workflow_template_id"`
	Instance  string            `yaml:"instance_name"`
	Callee    string            `yaml:"callee"`
	Variables map[string]string `yaml:"variables"`
	Delay     Duration          `yaml:"delay"`
	At        *At               `yaml:"at"`
	Window    *Window           `yaml:"window"`
	MaxPerDay int               `yaml:"max_per_day"`
	OnCap     string            `yaml:"on_cap"`
	EndTime   string            `yaml:"end_time"`
	// AutoFinish is createinstance's auto_finish, 1 or 2 (text, as the rules page writes it, or a number).
	AutoFinish string `yaml:"auto_finish"`
	TaskID     string `yaml:"task_id"`
	API        string `yaml:"api"`
	// ExpectWithin is how long after Airudder takes a re-call its call must complete, or the re-call is
	// overdue (airudder_recall only; default DefaultExpectWithin).
	ExpectWithin Duration `yaml:"expect_within"`
	// AskAfter is how long after an attempt of unknown outcome rudderhook asks Airudder whether the
	// re-call took effect (airudder_recall only; default DefaultAskAfter).
	AskAfter Duration `yaml:"ask_after"`
	// ReachesPerson overrides the type's default (true for airudder_recall, false for the others).
	ReachesPerson *bool  `yaml:"reaches_person"`
	OnUnknown     string `yaml:"on_unknown"`
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// reservedHeaders are set by rudderhook on every webhook and may not be overridden by a rule.
var reservedHeaders = []string{"content-type", "webhook-id", "webhook-timestamp", "webhook-signature", "user-agent"}

// Compile parses and checks a rules document. A document with any problem is refused whole, with an
// *Error listing every problem.
func Compile(src []byte, opts Options) (*Set, error) {
	return compile(src, opts, budget{until: time.Now().Add(CompileTimeout), what: fmt.Sprintf("checking a rules document has %s", CompileTimeout)})
}

// compile is Compile within checking, the time that checking the document has.
func compile(src []byte, opts Options, checking budget) (*Set, error) {
	if len(src) > MaxDocumentBytes {
		return nil, &Error{Problems: []Problem{{Message: fmt.Sprintf("the document is %d bytes long; a rules document is at most %d (1 MiB)", len(src), MaxDocumentBytes)}}}
	}
	var doc document
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Problems: yamlProblems(err)}
	}
	var root yaml.Node
	_ = yaml.Unmarshal(src, &root)
	lines := ruleLines(&root)

	sum := sha256.Sum256(src)
	set := &Set{TimeZone: doc.TimeZone, Digest: hex.EncodeToString(sum[:])}
	var problems []Problem
	if len(doc.Rules) > MaxRules {
		return nil, &Error{Problems: []Problem{{Field: "rules", Message: fmt.Sprintf("%d rules; a document has at most %d", len(doc.Rules), MaxRules)}}}
	}
	if set.TimeZone == "" {
		set.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(set.TimeZone); err != nil {
		problems = append(problems, Problem{Field: "time_zone", Message: err.Error()})
		set.TimeZone = "UTC"
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("rules environment: %w", err)
	}
	example := FactsOf(airudder.ExampleCalls("airudder", time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC))[0])
	seen := map[string]int{}
	for i, rd := range doc.Rules {
		line := 0
		if i < len(lines) {
			line = lines[i].rule
		}
		add := func(field, format string, args ...any) {
			problems = append(problems, Problem{Line: line, Rule: rd.ID, Field: field, Message: fmt.Sprintf(format, args...)})
		}
		if checking.over() {
			add("", "checking the rules took longer than %s, and stopped here: shorten the conditions and templates, or split the rules", CompileTimeout)
			break
		}
		r := &Rule{ID: rd.ID, Description: strings.TrimSpace(rd.Description), When: strings.TrimSpace(rd.When), Enabled: rd.Enabled == nil || *rd.Enabled, Line: line}
		switch {
		case !idRE.MatchString(r.ID):
			add("id", "an id is 1–64 letters, digits, '_', '.' or '-', starting with a letter or digit")
		case seen[r.ID] > 0:
			add("id", "repeats the rule on line %d", seen[r.ID])
		}
		seen[r.ID] = line
		r.On = cmp.Or(strings.TrimSpace(rd.On), OnCallCompleted)
		factsT, generic, onErr := factsType(r.On)
		condEnv, exampleData := env, func(a *Action) map[string]any { return templateData(example, "example-rule", 0, a, "fu_example") }
		if onErr != nil {
			add("on", "%v", onErr)
		} else if factsT != nil {
			if condEnv, err = eventEnv(factsT); err != nil {
				return nil, fmt.Errorf("rules environment of %s: %w", r.On, err)
			}
			exampleData = nil // a generic kind has no example: its templates are checked when they run
			if ev, ok := exampleEvent(r.On); ok && !generic {
				facts := EventFactsOf(ev)
				exampleData = func(a *Action) map[string]any {
					return eventTemplateData(ev, facts, "example-rule", 0, a, "fu_example")
				}
			}
		}
		if r.When == "" {
			add("when", "a condition is required (write `true` to match every call)")
		} else if len(r.When) > MaxConditionBytes {
			add("when", "the condition is %d bytes long; a condition is at most %d", len(r.When), MaxConditionBytes)
		} else if onErr != nil {
			// the condition cannot be checked without its kind
		} else if msg := eventFieldsProblem(r.On, factsT, r.When); msg != "" {
			problems = append(problems, Problem{Line: line, Rule: r.ID, Field: "when", Message: msg})
		} else if prg, msg := compileCondition(condEnv, r.When); msg != "" {
			whenLine := line
			if i < len(lines) && lines[i].when > 0 {
				whenLine = lines[i].when
			}
			problems = append(problems, Problem{Line: whenLine, Rule: r.ID, Field: "when", Message: msg})
		} else {
			r.program = prg
		}
		switch {
		case len(rd.Actions) == 0:
			add("actions", "a rule needs at least one action")
		case len(rd.Actions) > MaxActions:
			add("actions", "%d actions; a rule has at most %d", len(rd.Actions), MaxActions)
			rd.Actions = nil
		}
		names := map[string]bool{}
		for j, ad := range rd.Actions {
			a, errs := compileAction(ad, j, set.TimeZone, opts, exampleData, checking)
			if factsT != nil && ad.At != nil {
				errs = append(errs, "at: is for rules on calls (its dates are a call's); a rule on "+r.On+" waits with delay:")
			}
			if factsT != nil && ad.Type == TypeArchiveRecording {
				errs = append(errs, "archive_recording is for rules on calls (a call's recording); a rule on "+r.On+" has none")
			}
			if i < len(lines) && j < len(lines[i].actions) {
				a.line = lines[i].actions[j]
			}
			field := fmt.Sprintf("actions[%d]", j)
			if names[a.Name] {
				errs = append(errs, fmt.Sprintf("name %q is used twice in this rule; give each action its own name", a.Name))
			}
			names[a.Name] = true
			for _, e := range errs {
				problems = append(problems, Problem{Line: max(a.line, line), Rule: r.ID, Action: a.Name, Field: field, Message: e})
			}
			r.Actions = append(r.Actions, a)
		}
		set.Rules = append(set.Rules, r)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, &Error{Problems: problems}
	}
	return set, nil
}

func celEnv() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(ext.ParseStructTags(true), reflect.TypeFor[Call]()),
		cel.Variable("call", cel.ObjectType("rules.Call")),
		cel.CrossTypeNumericComparisons(true), // `call.total_owing_amount > 1000` without writing 1000.0
		ext.Strings(),
	)
}

// compileCondition type-checks a condition; the message, when not empty, says what is wrong and where.
func compileCondition(env *cel.Env, src string) (cel.Program, string) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		msg := celPosRE.ReplaceAllStringFunc(iss.Err().Error(), func(m string) string {
			sm := celPosRE.FindStringSubmatch(m)
			if sm[1] == "1" {
				return "column " + sm[2] + ": "
			}
			return "line " + sm[1] + " of the condition, column " + sm[2] + ": "
		})
		if sm := undefinedFieldRE.FindStringSubmatch(msg); sm != nil {
			if near := closest(sm[1], FieldNames()); near != "" {
				msg += "\n    did you mean call." + near + "? (the README lists every field)"
			}
		}
		return nil, msg
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Sprintf("the condition gives a %s, not true or false", ast.OutputType())
	}
	// The cost limit bounds one evaluation; the interrupt checks lets a plan's time (PlanTimeout) stop a
	// comprehension that is within it but slow (a nested all over long lists took 1.5 s).
	prg, err := env.Program(ast, cel.CostLimit(1_000_000), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, err.Error()
	}
	return prg, ""
}

var (
	celPosRE         = regexp.MustCompile(`ERROR: <input>:(\d+):(\d+): `)
	undefinedFieldRE = regexp.MustCompile(`undefined field '([^']+)'`)
)

// closest is the name nearest to s by edit distance, if any is near enough to be a typo.
func closest(s string, names []string) string {
	best, bestDist := "", len(s)/2+2
	for _, n := range names {
		if d := editDistance(s, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// compileAction checks one action of a rule and compiles its templates against the example call, within
// the time that checking the document has left. It returns the action (also when it has problems, so
// that later checks can name it) and its problems.
func compileAction(ad actionDoc, index int, zone string, opts Options, exampleData func(*Action) map[string]any, checking budget) (*Action, []string) {
	c := &actionCompiler{a: newAction(ad, index), opts: opts, checking: checking}
	if exampleData != nil {
		c.example = exampleData(c.a)
	}
	if !idRE.MatchString(c.a.Name) {
		c.fail("name %q: a name is 1–64 letters, digits, '_', '.' or '-'", c.a.Name)
	}
	switch ad.Type {
	case TypeWebhook:
		c.webhook(ad)
	case TypeNotify:
		c.notify(ad)
	case TypeAirudderRecall:
		c.recall(ad)
	case TypeAirudderCancelContact:
		c.cancelContact(ad)
	case TypeArchiveRecording:
		if ad.Target != "" || ad.URL != "" {
			c.fail("archive_recording downloads the call's own recording to the configured bucket (RUDDERHOOK_RECORDINGS_BUCKET); it takes no target or url")
		}
	case "":
		c.fail("type is required: one of %s", strings.Join(catalogue, ", "))
	default:
		c.fail("type %q is not in the catalogue: %s", ad.Type, strings.Join(catalogue, ", "))
	}
	c.onlyFor(ad)
	c.timing(ad, zone)
	c.effect(ad)
	return c.a, c.errs
}

// newAction is the action as written, with its default name: its type, numbered after the first.
func newAction(ad actionDoc, index int) *Action {
	a := &Action{
		Name: ad.Name, Type: ad.Type, Target: ad.Target, URL: ad.URL, Headers: ad.Headers, Fields: ad.Fields,
		airudderWorkflowID: ad.Workflow, templateID: ad.Template,
		Timing: Timing{Delay: time.Duration(ad.Delay), At: ad.At, Window: ad.Window, MaxPerDay: ad.MaxPerDay},
	}
	if a.Name == "" {
		a.Name = ad.Type
		if index > 0 {
			a.Name = fmt.Sprintf("%s-%d", ad.Type, index+1)
		}
	}
	return a
}

// actionCompiler collects the problems of one action while its parts are checked.
type actionCompiler struct {
	a    *Action
	opts Options
	// example is what templates see for the example call: each is run on it once, when it loads.
	example map[string]any
	// checking is the time left to check the document, which the templates' runs on the example share.
	checking budget
	errs     []string
}

func (c *actionCompiler) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// template parses a template, checks its shape (parseTemplate) and runs it on the example call, returning
// it and what it gave; nil (and a problem) when it does not parse, is refused, or fails on the example.
func (c *actionCompiler) template(field, src string) (*boundedTemplate, string) {
	if src == "" {
		return nil, ""
	}
	t, err := parseTemplate(field, src)
	if err != nil {
		c.fail("%s: %v", field, err)
		return nil, ""
	}
	if c.example == nil {
		return t, "" // no example to run it on (a generic kind's)
	}
	out, err := render(t, c.example, c.checking)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "map has no entry for key") {
			msg += ` (checked against the example call; for a key that calls may lack, write {{ index .call.variables "name" }}, which gives "" when it is absent)`
		}
		c.fail("%s: %s", field, msg)
		return nil, ""
	}
	return t, out
}

// URLLimits says what a rule's url: may reach, for the messages that refuse one.
const URLLimits = "rule URLs may reach only public addresses (a configured target may allow private ones: allow_private)"

// endpoint checks where a webhook or notification goes: a configured target or a URL, not both; a URL
// that names an address rule URLs may not reach is refused (see Options.URLs).
func (c *actionCompiler) endpoint() {
	a := c.a
	switch {
	case (a.Target == "") == (a.URL == ""):
		c.fail("give a target (a configured endpoint) or a url, not both")
	case a.URL != "":
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.fail("url %q is not an http(s) URL", a.URL)
		} else if refused := c.opts.URLs.CheckHost(u.Hostname()); refused != nil && !c.opts.Stored {
			c.fail("url: refused: %v; %s", refused, URLLimits)
		}
	case c.opts.Targets != nil && !c.opts.Targets[a.Target]:
		c.fail("target %q is not configured (configured: %s)", a.Target, strings.Join(sortedKeys(c.opts.Targets), ", "))
	}
}

func (c *actionCompiler) webhook(ad actionDoc) {
	c.endpoint()
	for h := range c.a.Headers {
		for _, r := range reservedHeaders {
			if strings.EqualFold(h, r) {
				c.fail("headers: %s is set by rudderhook", h)
			}
		}
	}
	var example string
	if c.a.body, example = c.template("body", ad.Body); c.a.body != nil && c.example != nil && !json.Valid([]byte(example)) {
		c.fail("body: the template does not give JSON for the example call; it gave:\n%s", example)
	}
}

func (c *actionCompiler) notify(ad actionDoc) {
	c.endpoint()
	if ad.Text == "" {
		c.fail("text: a notification needs a text")
	}
	c.a.text, _ = c.template("text", ad.Text)
}

func (c *actionCompiler) recall(ad actionDoc) {
	if (ad.Workflow == "") == (ad.Template == "") {
		c.fail("give workflow_id (add the callee to a running Airudder workflow) or workflow_template_id (start a new one), not both")
	}
	if ad.Template == "" && ad.Instance != "" {
		c.fail("instance_name: only for workflow_template_id")
	}
	if ad.Template == "" && ad.EndTime != "" {
		c.fail("end_time: only for workflow_template_id (a new instance ends then)")
	}
	switch ad.AutoFinish {
	case "":
	case strconv.Itoa(airudder.AutoFinishYes), strconv.Itoa(airudder.AutoFinishNo):
		if ad.Template == "" {
			c.fail("auto_finish: only for workflow_template_id (Airudder's createinstance takes it)")
		}
		c.a.autoFinish, _ = strconv.Atoi(ad.AutoFinish)
	default:
		c.fail("auto_finish %q: %d or %d, as Airudder's createinstance takes it (its default is %d)", ad.AutoFinish,
			airudder.AutoFinishYes, airudder.AutoFinishNo, airudder.AutoFinishNo)
	}
	if ad.Template != "" {
		// Airudder's createinstance takes the template as an integer: a name would be refused at every
		// attempt, so it is refused here, when the rules load.
		if _, err := ParseTemplateID(ad.Template); err != nil {
			c.fail("workflow_template_id: %v", err)
		}
	}
	if ad.EndTime != "" {
		if _, err := clock(ad.EndTime); err != nil {
			c.fail("end_time: %v", err)
		}
	}
	c.a.endTime = ad.EndTime
	switch c.a.expectWithin = time.Duration(ad.ExpectWithin); {
	case c.a.expectWithin < 0:
		c.fail("expect_within cannot be negative")
	case c.a.expectWithin == 0:
		c.a.expectWithin = DefaultExpectWithin
	}
	switch c.a.askAfter = time.Duration(ad.AskAfter); {
	case c.a.askAfter < 0:
		c.fail("ask_after cannot be negative")
	case c.a.askAfter == 0:
		c.a.askAfter = DefaultAskAfter
	}
	c.a.callee, _ = c.template("callee", cmp.Or(ad.Callee, "{{ .call.callee_number }}"))
	c.a.instanceName, _ = c.template("instance_name", cmp.Or(ad.Instance, "rudderhook {{ .rule.id }} {{ .call.case_id }}"))
	if len(ad.Variables) > MaxVariables {
		c.fail("variables: %d variables; a re-call sets at most %d", len(ad.Variables), MaxVariables)
		return
	}
	c.a.variables = map[string]*boundedTemplate{}
	for k, v := range ad.Variables {
		c.a.variables[k], _ = c.template("variables."+k, v)
	}
}

// cancelContact checks an airudder_cancel_contact: whose calls, in which task, through which API.
func (c *actionCompiler) cancelContact(ad actionDoc) {
	switch ad.API {
	case "":
		c.a.cancelAPI = CancelAPIWorkflow
	case CancelAPIWorkflow, CancelAPIPDS:
		c.a.cancelAPI = ad.API
	default:
		c.fail("api %q: %s (a workflow task, the default) or %s (a predictive-dialer task)", ad.API, CancelAPIWorkflow, CancelAPIPDS)
	}
	c.a.callee, _ = c.template("callee", cmp.Or(ad.Callee, "{{ .call.callee_number }}"))
	c.a.taskID, _ = c.template("task_id", cmp.Or(ad.TaskID, "{{ .call.task_id }}"))
}

// onlyFor refuses keys that the action's type does not read, rather than ignoring them.
func (c *actionCompiler) onlyFor(ad actionDoc) {
	typ := ad.Type
	for _, k := range []struct {
		key   string
		set   bool
		types []string
	}{
		{"workflow_id", ad.Workflow != "", []string{TypeAirudderRecall}},
		{"workflow_template_id", ad.Template != "", []string{TypeAirudderRecall}},
		{"instance_name", ad.Instance != "", []string{TypeAirudderRecall}},
		{"end_time", ad.EndTime != "", []string{TypeAirudderRecall}},
		{"auto_finish", ad.AutoFinish != "", []string{TypeAirudderRecall}},
		{"variables", len(ad.Variables) > 0, []string{TypeAirudderRecall}},
		{"expect_within", ad.ExpectWithin != 0, []string{TypeAirudderRecall}},
		{"ask_after", ad.AskAfter != 0, []string{TypeAirudderRecall}},
		{"callee", ad.Callee != "", []string{TypeAirudderRecall, TypeAirudderCancelContact}},
		{"task_id", ad.TaskID != "", []string{TypeAirudderCancelContact}},
		{"api", ad.API != "", []string{TypeAirudderCancelContact}},
	} {
		if k.set && typ != "" && slices.Contains(catalogue, typ) && !slices.Contains(k.types, typ) {
			c.fail("%s: only for %s", k.key, strings.Join(k.types, ", "))
		}
	}
}

// effect decides whether the action reaches a person and what an attempt of unknown outcome does.
func (c *actionCompiler) effect(ad actionDoc) {
	e := &c.a.Effect
	e.ReachesPerson = ad.Type == TypeAirudderRecall
	if ad.ReachesPerson != nil {
		e.ReachesPerson = *ad.ReachesPerson
	}
	switch ad.OnUnknown {
	case "":
		// At most once for what reaches a person. A cancel cannot reach anyone, and repeating it is
		// harmless while not doing it keeps calling a person who has paid: it retries.
		e.OnUnknown = OnUnknownRetry
		if e.ReachesPerson {
			e.OnUnknown = OnUnknownReview
		}
	case OnUnknownReview, OnUnknownRetry:
		e.OnUnknown = ad.OnUnknown
	default:
		c.fail("on_unknown %q: %s (stop for an operator, the default for actions that reach a person) or %s (repeat it)", ad.OnUnknown, OnUnknownReview, OnUnknownRetry)
	}
}

// ParseTemplateID reads an Airudder workflow template ID: a positive integer, as createinstance takes it.
func ParseTemplateID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a template ID: Airudder's createinstance takes workflow_template_id as a positive integer (the number Airudder shows for the template)", s)
	}
	return id, nil
}

// timing checks when the action may run: its date, window and daily cap.
func (c *actionCompiler) timing(ad actionDoc, zone string) {
	a := c.a
	if a.At != nil {
		if err := a.At.check(zone); err != nil {
			c.fail("at: %v", err)
		}
	}
	if a.Window != nil {
		if err := a.Window.check(zone); err != nil {
			c.fail("window: %v", err)
		}
	}
	if a.MaxPerDay < 0 {
		c.fail("max_per_day cannot be negative")
	}
	switch ad.OnCap {
	case "", "next_day":
	case "skip":
		a.SkipWhenCapped = true
	default:
		c.fail("on_cap %q: next_day (wait for the next day) or skip", ad.OnCap)
	}
	if ad.OnCap != "" && a.MaxPerDay == 0 {
		c.fail("on_cap needs max_per_day")
	}
}

// ruleLines finds the line of each rule, of its `when`, and of each action in the YAML.
type ruleLine struct {
	rule, when int
	actions    []int
}

func ruleLines(root *yaml.Node) []ruleLine {
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	doc := root.Content[0]
	var out []ruleLine
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "rules" || doc.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for _, r := range doc.Content[i+1].Content {
			rl := ruleLine{rule: r.Line}
			for k := 0; k+1 < len(r.Content); k += 2 {
				switch r.Content[k].Value {
				case "when":
					rl.when = r.Content[k+1].Line
				case "actions":
					for _, a := range r.Content[k+1].Content {
						rl.actions = append(rl.actions, a.Line)
					}
				}
			}
			out = append(out, rl)
		}
	}
	return out
}

var yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)

func yamlProblems(err error) []Problem {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var out []Problem
	for _, m := range msgs {
		p := Problem{Message: strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			fmt.Sscanf(sm[1], "%d", &p.Line)
			p.Message = sm[2]
		}
		out = append(out, p)
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := slices.Sorted(maps.Keys(m))
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}
