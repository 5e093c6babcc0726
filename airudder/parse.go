package airudder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SyntaxError means the body is not one well-formed UTF-8 JSON value (HTTP 400).
type SyntaxError struct{ Msg string }

func (e *SyntaxError) Error() string { return e.Msg }

// FieldError names one field that does not fit the spec.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError means the body is well-formed JSON that does not fit the spec (HTTP 422). It lists every
// offending field, so the sender can fix them all at once.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// ParseOptions are the per-source settings that parsing needs.
type ParseOptions struct {
	// RedialLocation is the zone of RedailCall[].CallStartTime, which Airudder sends without one.
	// Nil means UTC.
	RedialLocation *time.Location
}

// maxKeyLength bounds the call key, which becomes part of a Temporal workflow ID (at most 1000 bytes).
const maxKeyLength = 512

// Document is a callback body that is well-formed JSON and a JSON object, not yet checked against a spec.
// Splitting decoding from validation lets the receiver check the Sign before it says anything about
// the body's fields.
type Document struct {
	fields map[string]json.RawMessage
}

// Decode checks that body is one UTF-8 JSON object that PostgreSQL can store. Malformed input is a
// *SyntaxError; a valid JSON value that is not an object, or holds what the database cannot keep (the
// NUL character, numbers beyond PostgreSQL's numeric), is a *ValidationError.
func Decode(body []byte) (*Document, error) {
	if !utf8.Valid(body) {
		return nil, &SyntaxError{Msg: "body is not valid UTF-8"}
	}
	// Unmarshal validates as it goes; the slower token-by-token scan runs only to explain a failure, or for
	// the rare body that might hold what the database cannot store.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		top, serr := scan(body)
		switch {
		case serr != nil:
			return nil, serr
		case top == "object": // scan and Unmarshal disagree; say what Unmarshal saw
			return nil, &SyntaxError{Msg: fmt.Sprintf("body is not valid JSON: %v", err)}
		}
		return nil, &ValidationError{Fields: []FieldError{{Field: "(body)", Message: "must be a JSON object, got " + top}}}
	}
	if mightNotStore(body) {
		if _, err := scan(body); err != nil {
			return nil, err
		}
	}
	return &Document{fields: fields}, nil
}

// mightNotStore is a quick, conservative test for what scan refuses: a \u0000 escape, an exponent of five
// digits or more, or a very long run of digits. It may say yes for text that only looks like these (hex IDs
// such as "e12345"); it never says no for a body that scan would refuse.
func mightNotStore(body []byte) bool {
	if bytes.Contains(body, []byte(`\u0000`)) {
		return true
	}
	run := 0 // length of the current run of digits
	for i, c := range body {
		switch {
		case c >= '0' && c <= '9':
			if run++; run >= maxDigits {
				return true
			}
			continue
		case (c == 'e' || c == 'E') && run > 0 && bigExponent(body[i+1:]):
			return true
		}
		run = 0
	}
	return false
}

// bigExponent reports whether b starts with an optional sign and five digits.
func bigExponent(b []byte) bool {
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	if len(b) < 5 {
		return false
	}
	for _, c := range b[:5] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// PostgreSQL's numeric, which jsonb uses for numbers, holds at most 131072 digits before the point and
// 16383 after; these bounds stay well inside.
const (
	maxDigits   = 100_000
	maxExponent = 10_000
)

// storableNumber reports whether a JSON number fits PostgreSQL's numeric.
func storableNumber(n string) bool {
	mantissa, exp, hasExp := strings.Cut(strings.ToLower(n), "e")
	if len(mantissa) >= maxDigits {
		return false
	}
	if !hasExp {
		return true
	}
	e, err := strconv.Atoi(exp)
	return err == nil && e > -maxExponent && e < maxExponent
}

// scan walks every token of body once: it checks that body is exactly one JSON value, returns that
// value's kind, and refuses strings and numbers that a jsonb column would reject later, when the
// callback has already been acknowledged.
func scan(body []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	depth, values := 0, 0
	top := ""
	var problems []FieldError
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", &SyntaxError{Msg: "body is not valid JSON: " + err.Error()}
		}
		if depth == 0 {
			if values++; values > 1 {
				return "", &SyntaxError{Msg: fmt.Sprintf("body has data after the JSON value, at offset %d", dec.InputOffset())}
			}
			top = tokenKind(tok)
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if strings.ContainsRune(t, 0) && len(problems) == 0 {
				problems = append(problems, FieldError{Field: "(body)", Message: "contains the NUL character (\\u0000), which cannot be stored"})
			}
		case json.Number:
			if !storableNumber(string(t)) && len(problems) == 0 {
				problems = append(problems, FieldError{Field: "(body)", Message: fmt.Sprintf("number %.40s… is too large to store", t)})
			}
		}
	}
	switch {
	case values == 0:
		return "", &SyntaxError{Msg: "body is empty"}
	case depth != 0:
		return "", &SyntaxError{Msg: "body is not valid JSON: unexpected end of input"}
	case len(problems) > 0:
		return "", &ValidationError{Fields: problems}
	}
	return top, nil
}

func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "object"
		}
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	default:
		return "null"
	}
}

// Signed returns the TaskID and Sign of the envelope, each empty when absent or not a string.
func (d *Document) Signed() (taskID, sign string) {
	return d.lenientString("TaskID"), d.lenientString("Sign")
}

func (d *Document) lenientString(name string) string {
	var s string
	if raw, ok := d.fields[name]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// CallCompleted validates the document as a "Workflow call completion" callback.
func (d *Document) CallCompleted(opts ParseOptions) (*CallCompleted, error) {
	redialLoc := opts.RedialLocation
	if redialLoc == nil {
		redialLoc = time.UTC
	}
	var errs []FieldError
	env := reader{obj: d.fields, errs: &errs}
	cc := &CallCompleted{
		Task: Task{
			WorkflowID:   env.str("workflow_id"),
			WorkflowName: env.str("workflow_name"),
			NodeTaskID:   env.str("nodetask_id"),
			NodeTaskName: env.str("nodetask_name"),
			TaskID:       env.str("TaskID"),
			TaskName:     env.str("TaskName"),
		},
		Sign: env.str("Sign"),
	}
	details, present := env.array("Details")
	switch {
	case !present:
		env.fail("Details", "is required")
	case len(details) == 0 && kindOf(d.fields["Details"]) == "array":
		env.fail("Details", "must hold at least one call")
	}
	for i, raw := range details {
		path := fmt.Sprintf("Details[%d]", i)
		obj, ok := objectFields(raw)
		if !ok {
			env.fail(path, "must be an object, got "+kindOf(raw))
			continue
		}
		call := parseCall(reader{obj: obj, path: path, errs: &errs}, redialLoc)
		call.Raw = raw
		key := call.Key(cc.TaskID)
		switch {
		case key == "":
			errs = append(errs, FieldError{Field: path + ".CallID", Message: "is empty, and TaskID and id cannot stand in for it"})
		case len(key) > maxKeyLength:
			errs = append(errs, FieldError{Field: path + ".CallID", Message: fmt.Sprintf("is longer than %d bytes", maxKeyLength)})
		}
		cc.Details = append(cc.Details, call)
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	rawTask := make(map[string]json.RawMessage, len(d.fields))
	for k, v := range d.fields {
		if k != "Details" {
			rawTask[k] = v
		}
	}
	var err error
	if cc.RawTask, err = json.Marshal(rawTask); err != nil {
		return nil, fmt.Errorf("re-encode envelope: %w", err)
	}
	return cc, nil
}

func parseCall(r reader, redialLoc *time.Location) Call {
	c := Call{
		ID:                   r.int("id"),
		RobotID:              r.str("RobotID"),
		CalleeName:           r.str("CalleeName"),
		CalleeGender:         r.str("CalleeGender"),
		CalleeNumber:         r.str("CalleeNumber"),
		CallStartTime:        r.time("CallStartTime", time.UTC),
		CallEndTime:          r.time("CallEndTime", time.UTC),
		Status:               r.str("Status"),
		Intention:            r.str("Intention"),
		IntentionDescription: r.str("intention_description"),
		CallID:               r.str("CallID"),
		CallTimes:            r.int("CallTimes"),
		Comments:             r.str("Comments"),
		BorrowedDate:         r.date("BorrowedDate"),
		DueDate:              r.date("DueDate"),
		BorrowedAmount:       r.decimal("BorrowedAmount"),
		TotalOwingAmount:     r.decimal("TotalOwingAmount"),
		CurrencyUnit:         r.str("CurrencyUnit"),
		PlatformName:         r.str("PlatformName"),
		RingType:             r.str("RingType"),
		HangupType:           r.str("HangupType"),
		ExtraA:               r.str("ExtraA"),
		ExtraB:               r.str("ExtraB"),
		ExtraC:               r.str("ExtraC"),
		NerSlots:             r.object("NerSlots"),
		AskWhatsApp:          r.str("AskWhatsAPP"),
		AsrPTP:               r.str("AsrPTP"),
		MultiIntention:       r.object("Multi_intention"),
		EventLabel:           r.object("EventLabel"),
		RingTime:             r.int("RingTime"),
		TalkRound:            r.int("TalkRound"),
		CaseID:               r.str("CaseID"),
		Variables:            r.object("Variables"),
		CallerNumber:         r.str("caller_number"),
	}
	r.each("AsrResult", func(e reader) {
		c.AsrResult = append(c.AsrResult, AsrEntry{Time: e.str("time"), RobotText: e.str("robottext"), Text: e.str("text")})
	})
	r.each("RedailCall", func(e reader) {
		c.RedialCalls = append(c.RedialCalls, Redial{
			CallID:        e.str("CallID"),
			CallStartTime: e.time("CallStartTime", redialLoc),
			RingType:      e.str("RingType"),
			RingTime:      e.int("RingTime"),
			HangupType:    e.str("HangupType"),
			ResultLabel:   e.str("ResultLabel"),
			CalleeNumber:  e.str("callee_number"),
			CallerNumber:  e.str("caller_number"),
		})
	})
	return c
}

// reader reads typed fields out of one JSON object, collecting an error per field that has the wrong
// type. Field names match exactly: Airudder's spelling is the contract, and encoding/json's
// case-insensitive matching would let "callid" stand in for "CallID".
type reader struct {
	obj  map[string]json.RawMessage
	path string
	errs *[]FieldError
}

func (r reader) fieldPath(name string) string {
	if r.path == "" {
		return name
	}
	return r.path + "." + name
}

func (r reader) fail(name, msg string) {
	*r.errs = append(*r.errs, FieldError{Field: r.fieldPath(name), Message: msg})
}

// get returns the raw value of a field; JSON null counts as absent.
func (r reader) get(name string) (json.RawMessage, bool) {
	raw, ok := r.obj[name]
	if !ok || kindOf(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func (r reader) want(name string, raw json.RawMessage, kind string) bool {
	if got := kindOf(raw); got != kind {
		r.fail(name, "must be a "+kind+", got "+got)
		return false
	}
	return true
}

func (r reader) str(name string) string {
	raw, ok := r.get(name)
	if !ok || !r.want(name, raw, "string") {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		r.fail(name, "is not a valid string")
	}
	return s
}

func (r reader) int(name string) *int64 {
	raw, ok := r.get(name)
	if !ok || !r.want(name, raw, "number") {
		return nil
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			r.fail(name, "is out of range for a 64-bit integer")
		} else {
			r.fail(name, "must be an integer, got "+string(raw))
		}
		return nil
	}
	return &v
}

// parsedString reads a string field and converts it; an empty string counts as absent.
func parsedString[T any](r reader, name string, parse func(string) (T, error)) *T {
	s := r.str(name)
	if s == "" {
		return nil
	}
	v, err := parse(s)
	if err != nil {
		r.fail(name, err.Error())
		return nil
	}
	return &v
}

func (r reader) time(name string, loc *time.Location) *time.Time {
	return parsedString(r, name, func(s string) (time.Time, error) { return ParseTime(s, loc) })
}

func (r reader) date(name string) *Date { return parsedString(r, name, ParseDate) }

func (r reader) decimal(name string) *Decimal { return parsedString(r, name, ParseDecimal) }

func (r reader) object(name string) json.RawMessage {
	raw, ok := r.get(name)
	if !ok || !r.want(name, raw, "object") {
		return nil
	}
	return raw
}

// array returns the elements of an array field; present is false when the field is absent or null.
func (r reader) array(name string) (elems []json.RawMessage, present bool) {
	raw, ok := r.get(name)
	if !ok {
		return nil, false
	}
	if !r.want(name, raw, "array") {
		return nil, true
	}
	if err := json.Unmarshal(raw, &elems); err != nil {
		r.fail(name, "is not a valid array")
	}
	return elems, true
}

// each calls fn with a reader for every object in an array field.
func (r reader) each(name string, fn func(reader)) {
	elems, _ := r.array(name)
	for i, raw := range elems {
		path := fmt.Sprintf("%s[%d]", r.fieldPath(name), i)
		obj, ok := objectFields(raw)
		if !ok {
			*r.errs = append(*r.errs, FieldError{Field: path, Message: "must be an object, got " + kindOf(raw)})
			continue
		}
		fn(reader{obj: obj, path: path, errs: r.errs})
	}
}

func objectFields(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	if kindOf(raw) != "object" {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, false
	}
	return obj, true
}

// kindOf names the JSON type of an already well-formed value from its first byte.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}
