package airudder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rudderhook/rudderhook/payload"
)

// reader reads typed fields out of one JSON object. A field whose value does not fit its type is left
// empty (or, where its text says the same, read from that) and noted. Field names match exactly:
// Airudder's spelling is the contract, and encoding/json's case-insensitive matching would let "callid"
// stand in for "CallID".
type reader struct {
	obj   map[string]json.RawMessage
	path  string
	notes *[]ParseNote
	opts  *ParseOptions
}

func (r reader) fieldPath(name string) string {
	if r.path == "" {
		return name
	}
	return r.path + "." + name
}

// note records that field name, sent as raw, could not be read as its type.
func (r reader) note(name string, raw json.RawMessage, why string) {
	text := string(raw)
	if kindOf(raw) == "string" {
		_ = json.Unmarshal(raw, &text)
	}
	*r.notes = append(*r.notes, ParseNote{Field: r.fieldPath(name), Text: payload.Cut(text, noteTextLimit), Why: payload.Cut(why, noteTextLimit)})
}

// get returns the raw value of a field; JSON null counts as absent.
func (r reader) get(name string) (json.RawMessage, bool) {
	raw, ok := r.obj[name]
	if !ok || kindOf(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func (r reader) str(name string) string {
	raw, ok := r.get(name)
	if !ok {
		return ""
	}
	switch kindOf(raw) {
	case "string":
		var s string
		_ = json.Unmarshal(raw, &s) // well-formed: Decode checked the whole body
		return s
	case "number", "boolean":
		// A CaseID sent as 7777777 is still the case's ID: keep its text.
		r.note(name, raw, "must be a string, got "+kindOf(raw)+"; its JSON text is used")
		return string(raw)
	default:
		r.note(name, raw, "must be a string, got "+kindOf(raw))
		return ""
	}
}

func (r reader) int(name string) *int64 {
	raw, ok := r.get(name)
	if !ok {
		return nil
	}
	text := string(raw)
	switch kindOf(raw) {
	case "number":
	case "string":
		_ = json.Unmarshal(raw, &text)
		if text == "" {
			return nil
		}
	default:
		r.note(name, raw, "must be an integer, got "+kindOf(raw))
		return nil
	}
	v, err := strconv.ParseInt(text, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		r.note(name, raw, "is out of range for a 64-bit integer")
		return nil
	case err != nil:
		r.note(name, raw, "must be an integer")
		return nil
	case kindOf(raw) == "string":
		r.note(name, raw, "must be a number, got a string; its integer is used")
	}
	return &v
}

// parsedString reads a string field and converts it; an empty string counts as absent. A bare JSON
// number is read from its text too (when parse takes it), with a note.
func parsedString[T any](r reader, name string, parse func(string) (T, error)) *T {
	raw, ok := r.get(name)
	if !ok {
		return nil
	}
	var s string
	switch kindOf(raw) {
	case "string":
		_ = json.Unmarshal(raw, &s)
		if s == "" {
			return nil
		}
	case "number":
		s = string(raw)
	default:
		r.note(name, raw, "must be a string, got "+kindOf(raw))
		return nil
	}
	v, err := parse(s)
	switch {
	case err != nil:
		r.note(name, raw, err.Error())
		return nil
	case kindOf(raw) == "number":
		r.note(name, raw, "must be a string, got a number; its text is used")
	}
	return &v
}

func (r reader) time(name string, loc *time.Location) *time.Time {
	return parsedString(r, name, func(s string) (time.Time, error) { return ParseTime(s, loc) })
}

func (r reader) date(name string) *Date {
	return parsedString(r, name, func(s string) (Date, error) { return ParseDateIn(s, r.opts.DateLayouts) })
}

func (r reader) decimal(name string) *Decimal {
	return parsedString(r, name, func(s string) (Decimal, error) {
		return ParseAmount(s, r.opts.DecimalSeparator, r.opts.ThousandsSeparator)
	})
}

func (r reader) object(name string) json.RawMessage {
	raw, ok := r.get(name)
	if !ok {
		return nil
	}
	if k := kindOf(raw); k != "object" {
		r.note(name, raw, "must be an object, got "+k+"; taken as absent")
		return nil
	}
	return raw
}

// array returns the elements of an array field; a field that is not an array is noted and taken as
// absent.
func (r reader) array(name string) []json.RawMessage {
	raw, ok := r.get(name)
	if !ok {
		return nil
	}
	var elems []json.RawMessage
	if kindOf(raw) != "array" || json.Unmarshal(raw, &elems) != nil {
		r.note(name, raw, "must be an array, got "+kindOf(raw)+"; taken as absent")
		return nil
	}
	return elems
}

// each calls fn with a reader for every object in an array field; other elements are noted and skipped.
func (r reader) each(name string, fn func(reader)) {
	for i, raw := range r.array(name) {
		path := fmt.Sprintf("%s[%d]", name, i)
		obj, ok := objectFields(raw)
		if !ok {
			r.note(path, raw, "must be an object, got "+kindOf(raw)+"; skipped")
			continue
		}
		fn(reader{obj: obj, path: r.fieldPath(path), notes: r.notes, opts: r.opts})
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
