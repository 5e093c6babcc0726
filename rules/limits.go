package rules

import "time"

// Rules are written by people who may only view the rules page (its build and dry run compile a draft as
// they type) and run in every worker, so everything a document makes rudderhook do is bounded: checking it
// (Compile), and planning with it (Plan, PlanEvent). The README's "Limits" paragraph says the same to
// the people who write rules.
//
// A document is refused whole, with a problem naming the rule (and action) at fault, when it is longer
// than MaxDocumentBytes, has more than MaxRules rules, a rule more than MaxActions actions, a re-call more
// than MaxVariables variables, or a condition longer than MaxConditionBytes (type-checking CEL grows
// faster than its length), and when checking it takes longer than CompileTimeout. YAML aliases are
// expanded by yaml.v3, which refuses a document that expands them excessively.
//
// Templates are checked when they load: no {{define}}, {{block}} or {{template}} (the only way a template
// could repeat itself), no range over a number (and no range over anything but a field or a variable),
// ranges at most two deep, if/with/range at most eight deep, no `call`, printf widths and precisions of at
// most 100, and at most MaxTemplateBytes of text. When a template runs, it writes into a buffer that
// refuses more than MaxTemplateOutput, its ranges together take at most MaxRangeSteps turns, and every
// write, every function it calls and every turn of a range checks the time left: the conditions and
// templates of one plan have PlanTimeout together, the templates of a document being checked
// CompileTimeout. text/template cannot
// be stopped from outside, so the time is checked from inside: with no recursion and a check on every turn
// of every range, a template cannot run long between two checks. A template that runs out of a bound
// fails with a message that says which; in a plan, its action is planned as skipped, with that reason.
//
// A condition's evaluation is bounded by its CEL cost (cel.CostLimit) and, since a condition within its
// cost may still take long (a nested all over two long lists: 1.5 s), by the plan's time, which CEL
// checks every 100 turns of a comprehension: a condition stopped by it counts as not matched, with the
// reason among the plan's errors.
const (
	// MaxDocumentBytes is the longest rules document.
	MaxDocumentBytes = 1 << 20
	// MaxRules is how many rules a document may have.
	MaxRules = 500
	// MaxActions is how many actions a rule may have.
	MaxActions = 20
	// MaxVariables is how many variables a re-call may set.
	MaxVariables = 50
	// MaxConditionBytes is the longest condition (when).
	MaxConditionBytes = 4 << 10
	// CompileTimeout is how long checking a document may take, its templates' runs on the example call
	// included.
	CompileTimeout = 3 * time.Second

	// MaxTemplateBytes is the longest template.
	MaxTemplateBytes = 8 << 10
	// MaxTemplateOutput is the most a template may give for one call or event: a body, a text, a variable.
	MaxTemplateOutput = 64 << 10
	// MaxRangeSteps is how many turns the ranges of a template may take, together, for one call or event.
	MaxRangeSteps = 10_000
	// PlanTimeout is how long the conditions and templates of one plan (one call or event, every rule)
	// may run together.
	PlanTimeout = time.Second

	// maxNesting is how deep if, with and range may sit inside each other ({{else if}} counts as one).
	maxNesting = 8
	// maxRangeNesting is how deep ranges may sit inside each other: a list of lists, not more.
	maxRangeNesting = 2
	// maxFormatWidth is the widest width or precision that printf takes (%-20s, %08.2f).
	maxFormatWidth = 100
)
