package rules

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"

	"github.com/rudderhook/rudderhook/airudder"
)

// Where is a condition on a stored subject written outside a rules document: the `where` of a bulk
// repair. It is the language of a rule's `when`, with the same variables, facts and bounds (its cost,
// MaxConditionBytes): `call` for calls, `event` for events of any kind, with the fields of that kind.
// A condition that names `call` is about calls and matches no event; one that names `event` is about
// events and matches no call, and is checked against the facts of each event's kind as it meets one: an
// event of a kind without the fields it names does not match (see Refused). A Where remembers what
// it met: one per plan, not shared between goroutines.
type Where struct {
	src string
	// call is the program of a condition about calls; nil for one about events.
	call cel.Program
	// events are the programs of a condition about events, by the kind they were met with (on); a
	// kind whose facts do not fit has a problem instead.
	events map[string]kindProgram
	// met counts the subjects of the condition's variable it was tried on; fitted those whose kind fits.
	met, fitted int
}

type kindProgram struct {
	program cel.Program
	problem string
}

// WhereError is a condition that was refused, or that failed on a subject.
type WhereError struct {
	// Subject names the subject it failed on; empty when it was refused as written.
	Subject string
	Message string
	// TooCostly says it was stopped by its cost limit, or by the time it had.
	TooCostly bool
}

func (e *WhereError) Error() string {
	if e.Subject == "" {
		return "the condition is refused: " + e.Message
	}
	return "the condition failed on " + e.Subject + ": " + e.Message
}

// NewWhere checks a condition as written: it must be CEL that gives true or false over `call` (a
// condition about calls, checked here against their fields) or over `event` (a condition about events,
// whose fields are checked against each kind it meets). A refused condition is a *WhereError.
func NewWhere(src string) (*Where, error) {
	src = strings.TrimSpace(src)
	switch {
	case src == "":
		return nil, &WhereError{Message: "the condition is empty"}
	case len(src) > MaxConditionBytes:
		return nil, &WhereError{Message: fmt.Sprintf("the condition is %d bytes long; a condition is at most %d", len(src), MaxConditionBytes)}
	}
	callEnv, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("rules environment: %w", err)
	}
	prg, callMsg := compileCondition(callEnv, src)
	if callMsg == "" {
		return &Where{src: src, call: prg}, nil
	}
	// Not about calls: about events, if it reads as a condition on an event of some kind (whose facts
	// are a map, checked here by shape only).
	anyEvent, err := eventEnv(reflect.TypeFor[GenericFacts]())
	if err != nil {
		return nil, fmt.Errorf("rules environment: %w", err)
	}
	if _, eventMsg := compileCondition(anyEvent, src); eventMsg == "" {
		return &Where{src: src, events: map[string]kindProgram{}}, nil
	} else if strings.Contains(callMsg, "undeclared reference to 'event'") {
		return nil, &WhereError{Message: eventMsg}
	}
	return nil, &WhereError{Message: callMsg}
}

// String is the condition as written.
func (c *Where) String() string { return c.src }

// AboutCalls says whether the condition is about calls (`call`) rather than events (`event`).
func (c *Where) AboutCalls() bool { return c.call != nil }

// Match evaluates the condition on a subject, within ctx (whose deadline bounds it, besides its cost):
// false for a subject it is not about. An evaluation that fails (a field the subject lacks, its cost
// limit, ctx's end) is a *WhereError naming the subject.
func (c *Where) Match(ctx context.Context, subj airudder.Subject) (bool, error) {
	if subj.IsCall() != c.AboutCalls() {
		return false, nil
	}
	c.met++
	var prg cel.Program
	var vars map[string]any
	if subj.IsCall() {
		prg, vars = c.call, map[string]any{"call": FactsOf(*subj.Call)}
	} else {
		kp := c.forKind(subj.On())
		if kp.program == nil {
			return false, nil
		}
		prg, vars = kp.program, map[string]any{"event": celInput(EventFactsOf(*subj.Event))}
	}
	c.fitted++
	out, _, err := prg.ContextEval(ctx, vars)
	if err != nil {
		ce := &WhereError{Subject: subj.On() + " " + subj.Key(), Message: err.Error()}
		switch {
		case ctx.Err() != nil:
			ce.TooCostly, ce.Message = true, "it ran out of time"
			if errors.Is(ctx.Err(), context.Canceled) {
				ce.TooCostly, ce.Message = false, "it was cancelled"
			}
		case strings.Contains(err.Error(), "cost limit"):
			ce.TooCostly = true
		}
		return false, ce
	}
	matched, _ := out.Value().(bool)
	return matched, nil
}

// forKind is the condition's program for events of kind on, compiled the first time it meets one.
func (c *Where) forKind(on string) kindProgram {
	if kp, ok := c.events[on]; ok {
		return kp
	}
	var kp kindProgram
	t, _, err := factsType(on)
	switch {
	case err != nil:
		kp.problem = err.Error()
	case t == nil:
		kp.problem = on + " is a kind of call: write the condition over call"
	default:
		env, err := eventEnv(t)
		if err != nil {
			kp.problem = err.Error()
		} else if msg := eventFieldsProblem(on, t, c.src); msg != "" {
			kp.problem = msg
		} else {
			kp.program, kp.problem = compileCondition(env, c.src)
		}
	}
	c.events[on] = kp
	return kp
}

// Refused says, after the condition was tried on subjects, whether it fitted none of those it is about:
// a condition about events that names fields no kind it met has. It is a *WhereError with the
// problem of one of those kinds; nil when it fitted some, or met none.
func (c *Where) Refused() error {
	if c.met == 0 || c.fitted > 0 {
		return nil
	}
	var msgs []string
	for on, kp := range c.events {
		msgs = append(msgs, on+": "+kp.problem)
	}
	slices.Sort(msgs)
	return &WhereError{Message: "it fits no kind of event it met: " + strings.Join(msgs, "; ")}
}
