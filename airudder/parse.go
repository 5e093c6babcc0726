package airudder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rudderhook/rudderhook/payload"
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
	// DateLayouts are Go layouts (e.g. "02/01/2006") tried after YYYY-MM-DD for BorrowedDate and DueDate.
	DateLayouts []string
	// DecimalSeparator and ThousandsSeparator are how the tenant writes amounts; empty means "." and ",".
	DecimalSeparator, ThousandsSeparator string
	// MaxCalls caps the elements of Details; zero means no cap.
	MaxCalls int
	// PDSIntentionKeys are the keys of a PDS call's customizeResults, the most specific first, whose first
	// non-empty value is the call's Intention. Empty means the deepest "LevelN" key (Level2 before Level1).
	PDSIntentionKeys []string
	// Numbers key the hashes that stand for phone numbers in keys and search attributes (see NumberKeys).
	// serve and dev always set the ID key; only tools that start no workflow leave it empty.
	Numbers NumberKeys
}

// TooManyCallsError means a body holds more calls than its source takes in one body (HTTP 413).
type TooManyCallsError struct{ Calls, Max int }

func (e *TooManyCallsError) Error() string {
	return fmt.Sprintf("the body holds %d calls; this source takes at most %d per body", e.Calls, e.Max)
}

// ParseNote records a field that was kept as it was sent but could not be read into its typed form (the
// typed value is left empty), or that was rewritten to be storable. The call itself is never refused for
// it: the raw JSON keeps the original, and the note says what happened.
type ParseNote struct {
	// Field is the field's path within the call ("DueDate", "AsrResult[2].text"), or the envelope's field
	// name ("TaskName").
	Field string `json:"field"`
	// Text is the value as sent (a string's text, or the JSON of another value), cut to 200 bytes.
	Text string `json:"text,omitempty"`
	Why  string `json:"why"`
}

// noteTextLimit bounds each text of a note, and maxNotes the notes of a call: a body of 2 MiB could
// otherwise make notes that no longer fit a Temporal payload (found by the storable property test: an
// AsrResult of 30000 numbers gave 30000 notes, over 2 MB).
const (
	noteTextLimit = 200
	maxNotes      = 100
)

// capNotes keeps the first maxNotes notes and says how many more there were.
func capNotes(notes []ParseNote) []ParseNote {
	if len(notes) <= maxNotes {
		return notes
	}
	more := len(notes) - maxNotes + 1
	return append(notes[:maxNotes-1:maxNotes-1], ParseNote{Field: "(more)",
		Why: fmt.Sprintf("%d more fields did not fit their type; the raw JSON keeps them", more)})
}

// maxKeyLength bounds the call key, which becomes part of Temporal workflow IDs (at most 1000 bytes,
// limit.maxIDLength; see payload/limits.go), with room for a source and a follow-up's suffix.
const maxKeyLength = 512

// Document is a callback body that is well-formed JSON and a JSON object, not yet checked against a spec.
// Splitting decoding from validation lets the receiver check the Sign before it says anything about
// the body's fields.
type Document struct {
	fields map[string]json.RawMessage
	// original are the fields as sent, when making the body storable rewrote some of them; else nil.
	original map[string]json.RawMessage
}

// Decode checks that body is one UTF-8 JSON object that PostgreSQL can store. Malformed input is a
// *SyntaxError; a valid JSON value that is not an object, or holds a number beyond PostgreSQL's numeric,
// is a *ValidationError naming the field. Escapes that jsonb refuses (\u0000, a lone surrogate) are
// rewritten as \ufffd, and the fields that held them get a parse note.
func Decode(body []byte) (*Document, error) {
	if !utf8.Valid(body) {
		return nil, &SyntaxError{Msg: "body is not valid UTF-8"}
	}
	clean := sanitizeEscapes(body)
	// The body is validated once, here (json.Valid, no allocation), and then only cut into pieces (see
	// rawjson.go); the slower token-by-token scan runs only to explain a failure, or for the rare body that
	// might hold a number the database cannot store.
	var fields map[string]json.RawMessage
	if json.Valid(clean) {
		fields, _ = splitObject(clean)
	}
	if fields == nil {
		top, serr := scan(body)
		switch {
		case serr != nil:
			return nil, serr
		case top == "object": // scan and Unmarshal disagree; say what Unmarshal saw
			return nil, &SyntaxError{Msg: fmt.Sprintf("body is not valid JSON: %v", json.Unmarshal(clean, &fields))}
		}
		return nil, &ValidationError{Fields: []FieldError{{Field: "(body)", Message: "must be a JSON object, got " + top}}}
	}
	if mightNotStore(clean) {
		if _, err := scan(clean); err != nil {
			return nil, err
		}
	}
	doc := &Document{fields: fields}
	if !bytes.Equal(clean, body) {
		if err := json.Unmarshal(body, &doc.original); err != nil {
			return nil, &SyntaxError{Msg: fmt.Sprintf("body is not valid JSON: %v", err)}
		}
	}
	return doc, nil
}

// Signed returns the TaskID and Sign of the envelope as sent, each empty when absent or not a string.
func (d *Document) Signed() (taskID, sign string) {
	fields := d.fields
	if d.original != nil {
		fields = d.original // the Sign was computed over the TaskID as sent
	}
	return lenientString(fields, "TaskID"), lenientString(fields, "Sign")
}

func lenientString(fields map[string]json.RawMessage, name string) string {
	if raw, ok := fields[name]; ok {
		s, _ := unquote(raw)
		return s
	}
	return ""
}

// CallCompleted reads the document as a "Workflow call completion" callback. Only what makes it no such
// callback at all is refused (a *ValidationError): no Details array, an element of it that is not an
// object, a CallID longer than a key may be. A call that names itself by neither CallID nor TaskID and
// id is kept under its content key (Call.ContentKey), noted, so that it does not refuse the calls sent
// with it. Every other field that does not fit the spec leaves its typed value empty and adds a
// ParseNote to its call.
func (d *Document) CallCompleted(opts ParseOptions) (*CallCompleted, error) {
	if opts.RedialLocation == nil {
		opts.RedialLocation = time.UTC
	}
	var errs []FieldError
	var envNotes []ParseNote
	env := d.reader(&envNotes, &opts)
	cc := &CallCompleted{
		numbers:  opts.Numbers,
		original: d.original,
		Task: Task{
			WorkflowID:   env.str("workflow_id"),
			WorkflowName: env.str("workflow_name"),
			NodeTaskID:   env.str("nodetask_id"),
			NodeTaskName: env.str("nodetask_name"),
			TaskID:       env.str("TaskID"),
			TaskName:     env.str("TaskName"),
		},
	}
	envNotes = append(envNotes, sanitizedNotes("", d.fields, d.original, "Details", "Sign")...)
	details := requiredArray(d.fields, "Details", "call", &errs)
	if opts.MaxCalls > 0 && len(details) > opts.MaxCalls {
		return nil, &TooManyCallsError{Calls: len(details), Max: opts.MaxCalls}
	}
	var originalDetails []json.RawMessage
	if d.original != nil {
		originalDetails, _ = splitArray(d.original["Details"])
	}
	for i, raw := range details {
		path := fmt.Sprintf("Details[%d]", i)
		obj, ok := objectFields(raw)
		if !ok {
			errs = append(errs, FieldError{Field: path, Message: "must be an object, got " + kindOf(raw)})
			continue
		}
		var notes []ParseNote
		call := parseCall(reader{obj: obj, notes: &notes, opts: &opts})
		call.Raw = raw
		if i < len(originalDetails) {
			orig, _ := objectFields(originalDetails[i])
			notes = append(notes, sanitizedNotes("", obj, orig)...)
		}
		if call.CallID == "" && (cc.TaskID == "" || call.ID == nil) {
			// First, so that no cap on notes drops it: it says what the call's key is made of.
			notes = append([]ParseNote{{Field: "CallID", Text: payload.Cut(string(obj["CallID"]), noteTextLimit),
				Why: "is empty (or not a string), and TaskID and id cannot stand in for it: the call is kept under the hash of its content (" +
					call.ContentKey() + "), so a corrected redelivery of it is another call"}}, notes...)
		}
		call.Notes = notes
		if key := call.Key(cc.TaskID); len(key) > maxKeyLength {
			errs = append(errs, FieldError{Field: path + ".CallID", Message: fmt.Sprintf("is longer than %d bytes", maxKeyLength)})
		}
		cc.Details = append(cc.Details, call)
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	cc.Notes = envNotes
	var err error
	if cc.RawTask, err = d.raw("Details", "Sign"); err != nil {
		return nil, err
	}
	return cc, nil
}

// requiredArray reads an array that an envelope cannot do without (Details, QADetail): absent, null, not
// an array or empty is an envelope error. It returns the elements, unchecked.
func requiredArray(fields map[string]json.RawMessage, name, element string, errs *[]FieldError) []json.RawMessage {
	var elems []json.RawMessage
	switch raw := fields[name]; kindOf(raw) {
	case "array":
		var ok bool
		if elems, ok = splitArray(raw); !ok || len(elems) == 0 {
			*errs = append(*errs, FieldError{Field: name, Message: "must hold at least one " + element})
		}
	case "nothing", "null":
		*errs = append(*errs, FieldError{Field: name, Message: "is required"})
	default:
		*errs = append(*errs, FieldError{Field: name, Message: "must be an array, got " + kindOf(raw)})
	}
	return elems
}

// reader reads the body's top-level fields, noting into notes.
func (d *Document) reader(notes *[]ParseNote, opts *ParseOptions) reader {
	return reader{obj: d.fields, notes: notes, opts: opts}
}

// raw is the body again without the fields named (the Sign, a credential that never expires, is stored
// nowhere), its unstorable escapes rewritten, top-level keys sorted and every value as sent.
func (d *Document) raw(without ...string) (json.RawMessage, error) {
	fields := make(map[string]json.RawMessage, len(d.fields))
	for k, v := range d.fields {
		if !slices.Contains(without, k) {
			fields[k] = v
		}
	}
	b, err := marshalAsSent(fields)
	if err != nil {
		return nil, fmt.Errorf("re-encode body: %w", err)
	}
	return b, nil
}

// sanitizedNotes notes the fields of obj (the object at path, "" at the top) whose value differs from the
// original's: Decode rewrote an escape in them that PostgreSQL cannot store.
func sanitizedNotes(path string, obj, original map[string]json.RawMessage, skip ...string) []ParseNote {
	if original == nil {
		return nil
	}
	var notes []ParseNote
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if slices.Contains(skip, k) || bytes.Equal(obj[k], original[k]) {
			continue
		}
		field := k
		if path != "" {
			field = path + "." + k
		}
		notes = append(notes, ParseNote{Field: payload.Cut(field, noteTextLimit), Text: payload.Cut(string(original[k]), noteTextLimit),
			Why: "held \\u0000 or a lone UTF-16 surrogate escape, which PostgreSQL cannot store; replaced with \\ufffd"})
	}
	return notes
}

func parseCall(r reader) Call {
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
			CallStartTime: e.time("CallStartTime", r.opts.RedialLocation),
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
