package rules

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
)

// Condition operators, as a form offers them. Which apply depends on the field's type (OpsFor).
const (
	OpEq        = "=="
	OpNe        = "!="
	OpLt        = "<"
	OpLe        = "<="
	OpGt        = ">"
	OpGe        = ">="
	OpIn        = "in"
	OpNotIn     = "not_in"
	OpContains  = "contains"
	OpHas       = "has"
	OpNotHas    = "not_has"
	OpHasKey    = "has_key"
	OpKeyEquals = "key_equals"
)

// Condition is one simple comparison of a field: `call.ring_type in ["busy", "null"]`. A rule's condition
// that is a conjunction (&&) of such comparisons can be edited as a list of them.
type Condition struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	// Value is what the field is compared with (text, a number, a duration such as 30s); Values for in
	// and not_in; Key is the key of a map field (a NER slot, a variable).
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
	Key    string   `json:"key,omitempty"`
}

// OpsFor lists the operators that apply to a field type.
func OpsFor(fieldType string) []string {
	switch fieldType {
	case FieldText:
		return []string{OpEq, OpNe, OpIn, OpNotIn, OpContains}
	case FieldNumber:
		return []string{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe}
	case FieldTime:
		return []string{OpHas, OpNotHas}
	case FieldDuration:
		return []string{OpLt, OpLe, OpGt, OpGe}
	case FieldMap:
		return []string{OpHasKey, OpKeyEquals}
	}
	return nil
}

var parseEnv = sync.OnceValues(celEnv)

// ParseConditions reads a condition written in CEL as a list of simple comparisons of the kind's fields,
// joined by &&. It reports false when the condition is anything else (an ||, a function the list cannot
// say): such a condition stays CEL. `true` is the empty list: every call.
func ParseConditions(kind Kind, src string) ([]Condition, bool) {
	src = strings.TrimSpace(src)
	if src == "true" {
		return []Condition{}, true
	}
	env, err := parseEnv()
	if err != nil || src == "" || len(src) > MaxConditionBytes { // too long to parse for a form (Compile refuses it)
		return nil, false
	}
	ast, iss := env.Parse(src)
	if iss.Err() != nil {
		return nil, false
	}
	p := condParser{kind: kind}
	if !p.conj(ast.NativeRep().Expr()) {
		return nil, false
	}
	return p.out, true
}

type condParser struct {
	kind Kind
	out  []Condition
}

func (p *condParser) conj(e celast.Expr) bool {
	if e.Kind() == celast.CallKind && e.AsCall().FunctionName() == "_&&_" {
		for _, a := range e.AsCall().Args() {
			if !p.conj(a) {
				return false
			}
		}
		return true
	}
	c, ok := p.term(e)
	if !ok {
		return false
	}
	// `"k" in call.m && call.m["k"] == "v"` is one condition: the guard the form writes before a key's value.
	if n := len(p.out); c.Op == OpKeyEquals && n > 0 && p.out[n-1].Op == OpHasKey && p.out[n-1].Field == c.Field && p.out[n-1].Key == c.Key {
		p.out = p.out[:n-1]
	}
	p.out = append(p.out, c)
	return true
}

var comparisons = map[string]string{"_==_": OpEq, "_!=_": OpNe, "_<_": OpLt, "_<=_": OpLe, "_>_": OpGt, "_>=_": OpGe}

func (p *condParser) term(e celast.Expr) (Condition, bool) {
	switch e.Kind() {
	case celast.SelectKind: // has(call.f)
		if f, ok := p.field(e, true); ok && p.allows(f, OpHas) {
			return Condition{Field: f.Name, Op: OpHas}, true
		}
	case celast.CallKind:
		call := e.AsCall()
		args := call.Args()
		if op, ok := comparisons[call.FunctionName()]; ok && len(args) == 2 {
			return p.comparison(op, args[0], args[1])
		}
		switch call.FunctionName() {
		case "@in":
			if len(args) != 2 {
				break
			}
			if f, ok := p.field(args[0], false); ok && p.allows(f, OpIn) {
				if values, ok := stringList(args[1]); ok {
					return Condition{Field: f.Name, Op: OpIn, Values: values}, true
				}
			}
			if key, ok := stringLiteral(args[0]); ok {
				if f, ok := p.field(args[1], false); ok && p.allows(f, OpHasKey) {
					return Condition{Field: f.Name, Op: OpHasKey, Key: key}, true
				}
			}
		case "!_":
			if len(args) != 1 {
				break
			}
			if f, ok := p.field(args[0], true); ok && p.allows(f, OpNotHas) {
				return Condition{Field: f.Name, Op: OpNotHas}, true
			}
			if c, ok := p.term(args[0]); ok && c.Op == OpIn {
				c.Op = OpNotIn
				return c, true
			}
		case "contains":
			if call.IsMemberFunction() && len(args) == 1 {
				f, ok := p.field(call.Target(), false)
				s, isString := stringLiteral(args[0])
				if ok && isString && p.allows(f, OpContains) {
					return Condition{Field: f.Name, Op: OpContains, Value: s}, true
				}
			}
		}
	}
	return Condition{}, false
}

func (p *condParser) comparison(op string, left, right celast.Expr) (Condition, bool) {
	// call.m["k"] == "v"
	if left.Kind() == celast.CallKind && left.AsCall().FunctionName() == "_[_]" && op == OpEq {
		idx := left.AsCall().Args()
		if len(idx) == 2 {
			f, ok := p.field(idx[0], false)
			key, isKey := stringLiteral(idx[1])
			value, isValue := stringLiteral(right)
			if ok && isKey && isValue && p.allows(f, OpKeyEquals) {
				return Condition{Field: f.Name, Op: OpKeyEquals, Key: key, Value: value}, true
			}
		}
		return Condition{}, false
	}
	f, ok := p.field(left, false)
	if !ok || !p.allows(f, op) {
		return Condition{}, false
	}
	switch f.Type {
	case FieldText:
		if s, ok := stringLiteral(right); ok {
			return Condition{Field: f.Name, Op: op, Value: s}, true
		}
	case FieldNumber:
		if right.Kind() == celast.LiteralKind {
			switch v := right.AsLiteral().(type) {
			case types.Int:
				return Condition{Field: f.Name, Op: op, Value: strconv.FormatInt(int64(v), 10)}, true
			case types.Uint:
				return Condition{Field: f.Name, Op: op, Value: strconv.FormatUint(uint64(v), 10)}, true
			case types.Double:
				return Condition{Field: f.Name, Op: op, Value: strconv.FormatFloat(float64(v), 'f', -1, 64)}, true
			}
		}
	case FieldDuration:
		if right.Kind() == celast.CallKind && right.AsCall().FunctionName() == "duration" && len(right.AsCall().Args()) == 1 {
			if s, ok := stringLiteral(right.AsCall().Args()[0]); ok {
				return Condition{Field: f.Name, Op: op, Value: s}, true
			}
		}
	}
	return Condition{}, false
}

// field is the kind's field that e selects (`call.f`, or `has(call.f)` when testOnly).
func (p *condParser) field(e celast.Expr, testOnly bool) (Field, bool) {
	if e.Kind() != celast.SelectKind {
		return Field{}, false
	}
	sel := e.AsSelect()
	if sel.IsTestOnly() != testOnly || sel.Operand().Kind() != celast.IdentKind || sel.Operand().AsIdent() != p.kind.Variable {
		return Field{}, false
	}
	return p.kind.Field(sel.FieldName())
}

func (p *condParser) allows(f Field, op string) bool { return slices.Contains(OpsFor(f.Type), op) }

func stringLiteral(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

func stringList(e celast.Expr) ([]string, bool) {
	if e.Kind() != celast.ListKind {
		return nil, false
	}
	var out []string
	for _, el := range e.AsList().Elements() {
		s, ok := stringLiteral(el)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// ConditionsCEL writes conditions as the CEL the rules read, or says what is wrong with each that cannot
// be written (by its index). No conditions is `true`: every call.
func ConditionsCEL(kind Kind, conds []Condition) (string, map[int]string) {
	if len(conds) == 0 {
		return "true", nil
	}
	problems := map[int]string{}
	var terms []string
	for i, c := range conds {
		term, err := conditionCEL(kind, c)
		if err != nil {
			problems[i] = err.Error()
			continue
		}
		terms = append(terms, term)
	}
	if len(problems) > 0 {
		return "", problems
	}
	return strings.Join(terms, " && "), nil
}

func conditionCEL(kind Kind, c Condition) (string, error) {
	f, ok := kind.Field(c.Field)
	if !ok {
		if c.Field == "" {
			return "", fmt.Errorf("choose a field")
		}
		return "", fmt.Errorf("%q is not a field of %s", c.Field, kind.Label)
	}
	if !slices.Contains(OpsFor(f.Type), c.Op) {
		return "", fmt.Errorf("choose how to compare the %s", f.Label)
	}
	ref := kind.Variable + "." + f.Name
	switch c.Op {
	case OpHas:
		return "has(" + ref + ")", nil
	case OpNotHas:
		return "!has(" + ref + ")", nil
	case OpIn, OpNotIn:
		if len(c.Values) == 0 {
			return "", fmt.Errorf("give at least one value")
		}
		quoted := make([]string, len(c.Values))
		for i, v := range c.Values {
			quoted[i] = strconv.Quote(v)
		}
		list := ref + " in [" + strings.Join(quoted, ", ") + "]"
		if c.Op == OpNotIn {
			return "!(" + list + ")", nil
		}
		return list, nil
	case OpContains:
		return ref + ".contains(" + strconv.Quote(c.Value) + ")", nil
	case OpHasKey:
		if c.Key == "" {
			return "", fmt.Errorf("give the name of the %s", f.Label)
		}
		return strconv.Quote(c.Key) + " in " + ref, nil
	case OpKeyEquals:
		if c.Key == "" {
			return "", fmt.Errorf("give the name of the %s", f.Label)
		}
		return strconv.Quote(c.Key) + " in " + ref + " && " + ref + "[" + strconv.Quote(c.Key) + "] == " + strconv.Quote(c.Value), nil
	}
	switch f.Type {
	case FieldNumber:
		v := strings.TrimSpace(c.Value)
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
			return "", fmt.Errorf("%q is not a number", c.Value)
		}
		return ref + " " + c.Op + " " + v, nil
	case FieldDuration:
		v := strings.TrimSpace(c.Value)
		if _, err := time.ParseDuration(v); err != nil {
			return "", fmt.Errorf("%q is not a duration (like 30s, 2m, 1h)", c.Value)
		}
		return ref + " " + c.Op + " duration(" + strconv.Quote(v) + ")", nil
	default:
		return ref + " " + c.Op + " " + strconv.Quote(c.Value), nil
	}
}
