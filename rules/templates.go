package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"
)

// This file keeps the bounds of templates that limits.go describes: the check of a template's shape when
// it loads (parseTemplate), and its runs (render), which count what they write, the turns of their ranges
// and the time.

// stepFunc is the function that every turn of a range calls first (it is added to the parse tree when the
// template loads): it counts the turns and checks the time.
const stepFunc = "rudderhookStep"

// templateFuncs are the functions templates may call, beyond text/template's own; print, printf, println,
// html, js and urlquery replace text/template's with versions that keep the bounds. The functions given
// to a running template are its run's (run.funcs); these only name them for the parser.
var templateFuncs = (&run{}).funcs()

// stepNode is the action {{rudderhookStep}}, added first in the body of every range.
var stepNode = template.Must(template.New("step").Funcs(templateFuncs).Parse("{{" + stepFunc + "}}")).Tree.Root.Nodes[0]

// boundedTemplate is a checked template and the runs it keeps for reuse: each is a clone whose functions
// count against that run's budget, so that one template can run in many goroutines at once.
type boundedTemplate struct {
	t    *template.Template
	runs sync.Pool
}

// Name is the field the template is for ("body", "variables.amount").
func (b *boundedTemplate) Name() string { return b.t.Name() }

// parseTemplate reads a template and checks its shape (see the comment on the limits above). The problem,
// when it is refused, says what to write instead.
func parseTemplate(name, src string) (*boundedTemplate, error) {
	if len(src) > MaxTemplateBytes {
		return nil, fmt.Errorf("the template is %d bytes long; a template is at most %d", len(src), MaxTemplateBytes)
	}
	t, err := template.New(name).Funcs(templateFuncs).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) != 1 || t.Tree == nil {
		return nil, errors.New("{{define}} and {{block}} are not allowed: write the template whole")
	}
	c := &shapeCheck{}
	c.list(t.Tree.Root, 0, 0)
	if c.err != nil {
		return nil, c.err
	}
	return &boundedTemplate{t: t}, nil
}

// shapeCheck walks a template's parse tree, refusing what could make it run long or give a lot, and
// adding a step to the body of every range.
type shapeCheck struct{ err error }

func (c *shapeCheck) fail(n parse.Node, format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%s: "+format, append([]any{head(n)}, args...)...)
	}
}

// head is how a problem quotes the node it is about: an if, with or range without its body.
func head(n parse.Node) string {
	switch n := n.(type) {
	case *parse.IfNode:
		return "{{if " + n.Pipe.String() + "}}"
	case *parse.WithNode:
		return "{{with " + n.Pipe.String() + "}}"
	case *parse.RangeNode:
		return "{{range " + n.Pipe.String() + "}}"
	case *parse.CommandNode:
		return "{{" + n.String() + "}}"
	}
	return n.String()
}

func (c *shapeCheck) list(l *parse.ListNode, depth, ranges int) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		c.node(n, depth, ranges)
	}
}

func (c *shapeCheck) node(n parse.Node, depth, ranges int) {
	switch n := n.(type) {
	case *parse.ActionNode:
		c.pipe(n.Pipe)
	case *parse.IfNode:
		c.branch(n, &n.BranchNode, depth, ranges)
	case *parse.WithNode:
		c.branch(n, &n.BranchNode, depth, ranges)
	case *parse.RangeNode:
		if ranges+1 > maxRangeNesting {
			c.fail(n, "a range inside a range inside a range: ranges go at most %d deep", maxRangeNesting)
			return
		}
		c.rangeOver(n)
		c.branch(n, &n.BranchNode, depth, ranges+1)
		if c.err == nil {
			n.List.Nodes = append([]parse.Node{stepNode}, n.List.Nodes...)
		}
	case *parse.TemplateNode:
		c.fail(n, "{{template}} is not allowed: write the template whole")
	}
}

// branch checks an if, with or range: its condition, its body one level deeper, and its else at the same
// level (so that a chain of {{else if}} is not taken for nesting). Ranges count one deeper in the body
// only (ranges is already counted for a range).
func (c *shapeCheck) branch(n parse.Node, b *parse.BranchNode, depth, ranges int) {
	if depth+1 > maxNesting {
		c.fail(n, "if, with and range go at most %d deep", maxNesting)
		return
	}
	c.pipe(b.Pipe)
	c.list(b.List, depth+1, ranges)
	if _, isRange := n.(*parse.RangeNode); isRange {
		ranges-- // the else of a range runs once, outside it
	}
	c.list(b.ElseList, depth, ranges)
}

// rangeOver allows a range over a field or a variable ({{ range .call.variables }}, {{ range $k, $v :=
// .event.hit }}, {{ range . }} inside another), which the call or event bounds, and refuses the rest: a
// number (range 100000000000 repeats its body that many times), a function's result, a literal.
func (c *shapeCheck) rangeOver(n *parse.RangeNode) {
	if len(n.Pipe.Cmds) == 1 && len(n.Pipe.Cmds[0].Args) == 1 {
		switch n.Pipe.Cmds[0].Args[0].(type) {
		case *parse.FieldNode, *parse.VariableNode, *parse.DotNode:
			return
		case *parse.NumberNode:
			c.fail(n, "range over a number is not allowed: range goes over a list or map of the call or event, such as {{ range $k, $v := .call.variables }}")
			return
		}
	}
	c.fail(n, "range goes over a field or a variable, a list or map of the call or event, such as {{ range $k, $v := .call.variables }}")
}

// pipe checks the commands of a pipeline, and those of pipelines within it.
func (c *shapeCheck) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, cmd := range p.Cmds {
		for i, arg := range cmd.Args {
			switch a := arg.(type) {
			case *parse.PipeNode:
				c.pipe(a)
			case *parse.ChainNode:
				if inner, ok := a.Node.(*parse.PipeNode); ok {
					c.pipe(inner)
				}
			case *parse.IdentifierNode:
				switch {
				case a.Ident == "call":
					c.fail(cmd, "call is not available in rules' templates")
				case a.Ident == "printf" && i == 0:
					if len(cmd.Args) > 1 {
						if f, ok := cmd.Args[1].(*parse.StringNode); ok {
							if err := checkFormat(f.Text); err != nil {
								c.fail(cmd, "%v", err)
							}
						}
					}
				}
			}
		}
	}
}

// checkFormat refuses a printf format whose widths or precisions could make a large text out of a small
// one (%999999d): at most maxFormatWidth, and none taken from an argument (%*d).
func checkFormat(f string) error {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		for i < len(f) && strings.IndexByte("+-# 0", f[i]) >= 0 {
			i++
		}
		for part := 0; part < 2 && i < len(f); part++ {
			if f[i] == '[' { // an argument index: %[2]d
				if j := strings.IndexByte(f[i:], ']'); j >= 0 {
					i += j + 1
				}
			}
			if i < len(f) && f[i] == '*' {
				return fmt.Errorf("printf %q: a width or precision taken from an argument (*) is not allowed", f)
			}
			n := 0
			for ; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
				if n = n*10 + int(f[i]-'0'); n > maxFormatWidth {
					return fmt.Errorf("printf %q: a width or precision is at most %d", f, maxFormatWidth)
				}
			}
			if part == 0 && i < len(f) && f[i] == '.' {
				i++
				continue
			}
			break
		}
	}
	return nil
}

// budget is the time that the templates of one plan (or of one document being checked) have together.
type budget struct {
	until time.Time
	// what says whose time it is, for the message when it runs out.
	what string
}

func (b budget) over() bool { return time.Now().After(b.until) }

// planBudget is the time of the conditions and templates of one plan.
func planBudget() budget {
	return budget{until: time.Now().Add(PlanTimeout), what: fmt.Sprintf("the conditions and templates of one call have %s together", PlanTimeout)}
}

// limitError is a template stopped by one of its bounds while it ran.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// run is one run of a template: what it has written, and what it has left.
type run struct {
	budget
	out   bytes.Buffer
	steps int
}

func (r *run) check() error {
	if r.over() {
		return &limitError{"ran out of time: " + r.what}
	}
	return nil
}

// Write is where the template writes: it refuses more than MaxTemplateOutput, and writing after the time.
func (r *run) Write(p []byte) (int, error) {
	if err := r.check(); err != nil {
		return 0, err
	}
	if r.out.Len()+len(p) > MaxTemplateOutput {
		return 0, &limitError{fmt.Sprintf("gives more than %d KiB; a template gives at most that", MaxTemplateOutput>>10)}
	}
	return r.out.Write(p)
}

func (r *run) step() (string, error) {
	if r.steps++; r.steps > MaxRangeSteps {
		return "", &limitError{fmt.Sprintf("its ranges took more than %d turns; a template's ranges take at most that for one call", MaxRangeSteps)}
	}
	return "", r.check()
}

// sized refuses a value that a function made larger than a template may give: there is no use making it.
func sized(s string) (string, error) {
	if len(s) > MaxTemplateOutput {
		return "", &limitError{fmt.Sprintf("makes a value of more than %d KiB; a template gives at most that", MaxTemplateOutput>>10)}
	}
	return s, nil
}

// checked is f after a check of the time.
func checked[T any](r *run, f func() T) (T, error) {
	var zero T
	if err := r.check(); err != nil {
		return zero, err
	}
	return f(), nil
}

func (r *run) funcs() template.FuncMap {
	return template.FuncMap{
		stepFunc: r.step,
		// json writes a value as JSON, for bodies: {"case": {{ json .call.case_id }}}.
		"json": func(v any) (string, error) {
			if err := r.check(); err != nil {
				return "", err
			}
			b, err := json.Marshal(v)
			if err != nil {
				return "", err
			}
			return sized(string(b))
		},
		// default gives def when v is empty: {{ default "unknown" .call.callee_name }}.
		"default": func(def, v any) any {
			if v == nil || v == "" || v == 0 || v == int64(0) || v == 0.0 {
				return def
			}
			if t, ok := v.(time.Time); ok && t.IsZero() {
				return def
			}
			return v
		},
		"upper": func(s string) (string, error) { return checked(r, func() string { return strings.ToUpper(s) }) },
		"lower": func(s string) (string, error) { return checked(r, func() string { return strings.ToLower(s) }) },
		// date formats a time in a zone: {{ date .call.due_date "02 Jan 2006" "Asia/Jakarta" }}.
		"date": func(t time.Time, layout, zone string) (string, error) {
			if err := r.check(); err != nil {
				return "", err
			}
			loc, err := time.LoadLocation(zone)
			if err != nil {
				return "", err
			}
			if t.IsZero() {
				return "", nil
			}
			return t.In(loc).Format(layout), nil
		},
		"print":   func(args ...any) (string, error) { return r.sprint(fmt.Sprint, args) },
		"println": func(args ...any) (string, error) { return r.sprint(fmt.Sprintln, args) },
		"printf": func(format string, args ...any) (string, error) {
			if err := checkFormat(format); err != nil {
				return "", err
			}
			return r.sprint(func(a ...any) string { return fmt.Sprintf(format, a...) }, args)
		},
		"html":     func(args ...any) (string, error) { return r.sprint(template.HTMLEscaper, args) },
		"js":       func(args ...any) (string, error) { return r.sprint(template.JSEscaper, args) },
		"urlquery": func(args ...any) (string, error) { return r.sprint(template.URLQueryEscaper, args) },
	}
}

func (r *run) sprint(f func(...any) string, args []any) (string, error) {
	s, err := checked(r, func() string { return f(args...) })
	if err != nil {
		return "", err
	}
	return sized(s)
}

// render runs a template on data within b, the time its plan (or check) has left; nil gives "".
func render(bt *boundedTemplate, data map[string]any, b budget) (string, error) {
	if bt == nil {
		return "", nil
	}
	type pooled struct {
		t *template.Template
		r *run
	}
	p, _ := bt.runs.Get().(*pooled)
	if p == nil {
		p = &pooled{r: &run{}}
		clone, err := bt.t.Clone()
		if err != nil {
			return "", fmt.Errorf("%s: %w", bt.Name(), err)
		}
		p.t = clone.Funcs(p.r.funcs())
	}
	defer bt.runs.Put(p)
	r := p.r
	r.budget, r.steps = b, 0
	r.out.Reset()
	if err := r.check(); err != nil {
		return "", fmt.Errorf("%s: %w", bt.Name(), err)
	}
	if err := p.t.Execute(r, data); err != nil {
		var limit *limitError
		if errors.As(err, &limit) {
			return "", fmt.Errorf("%s: %w", bt.Name(), limit)
		}
		return "", fmt.Errorf("%s: %v", bt.Name(), err)
	}
	return r.out.String(), nil
}
