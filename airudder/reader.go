package airudder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	if t, ok := unquote(raw); ok && kindOf(raw) == "string" {
		text = t
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
		s, _ := unquote(raw) // well-formed: Decode checked the whole body
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
	return readNumber(r, name, numberForm{want: "an integer", rangeOf: "a 64-bit integer", used: "its integer is used"},
		func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) })
}

// float reads a number that is not money (a QA score, a second): a double is exact enough for them.
// ParseFloat also reads "NaN", "Inf" and hex floats, which are no JSON numbers (and which encoding/json
// cannot write back): those are refused.
func (r reader) float(name string) *float64 {
	return readNumber(r, name, numberForm{want: "a number", rangeOf: "a double", used: "its number is used"},
		func(s string) (float64, error) {
			if !json.Valid([]byte(s)) || kindOf([]byte(s)) != "number" {
				return 0, strconv.ErrSyntax
			}
			return strconv.ParseFloat(s, 64)
		})
}

// epochMillis reads a time sent as milliseconds since the epoch. PDS sends it as a JSON number or as a
// string of digits, alike: neither form is noted.
func (r reader) epochMillis(name string) *time.Time {
	ms := readNumber(r, name, numberForm{want: "milliseconds since the epoch (an integer)", rangeOf: "a 64-bit integer", quiet: true},
		func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) })
	if ms == nil {
		return nil
	}
	t := time.UnixMilli(*ms).UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		raw, _ := r.get(name)
		r.note(name, raw, "is out of range (years 1 to 9999)")
		return nil
	}
	return &t
}

// numberForm words the notes of one numeric type.
type numberForm struct {
	want, rangeOf, used string
	// quiet: a number sent as a string is as good as a JSON number (no note).
	quiet bool
}

// readNumber reads a JSON number, or a string holding one (noted, unless the form is quiet); an empty
// string counts as absent.
func readNumber[T any](r reader, name string, form numberForm, parse func(string) (T, error)) *T {
	raw, ok := r.get(name)
	if !ok {
		return nil
	}
	text := string(raw)
	switch kindOf(raw) {
	case "number":
	case "string":
		if t, ok := unquote(raw); ok {
			text = t
		}
		if text == "" {
			return nil
		}
	default:
		r.note(name, raw, "must be "+form.want+", got "+kindOf(raw))
		return nil
	}
	v, err := parse(text)
	switch {
	case errors.Is(err, strconv.ErrRange):
		r.note(name, raw, "is out of range for "+form.rangeOf)
		return nil
	case err != nil:
		r.note(name, raw, "must be "+form.want)
		return nil
	case kindOf(raw) == "string" && !form.quiet:
		r.note(name, raw, "must be a number, got a string; "+form.used)
	}
	return &v
}

// bool reads true or false; the strings "true" and "false" are read too, with a note.
func (r reader) bool(name string) *bool {
	raw, ok := r.get(name)
	if !ok {
		return nil
	}
	var v bool
	switch kindOf(raw) {
	case "boolean":
		_ = json.Unmarshal(raw, &v)
		return &v
	case "string":
		s, _ := unquote(raw)
		if s == "true" || s == "false" {
			v = s == "true"
			r.note(name, raw, "must be a boolean, got a string; its value is used")
			return &v
		}
	}
	r.note(name, raw, "must be a boolean, got "+kindOf(raw))
	return nil
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
		s, _ = unquote(raw)
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
	elems, ok := splitArray(raw)
	if !ok {
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
		fn(r.at(path, obj))
	}
}

// child returns a reader of an object field; a field that is not an object is noted and taken as absent.
func (r reader) child(name string) (reader, bool) {
	raw := r.object(name)
	if raw == nil {
		return reader{}, false
	}
	obj, _ := objectFields(raw)
	return r.at(name, obj), true
}

// at is a reader of obj, the value at path below r, that notes into the same list.
func (r reader) at(path string, obj map[string]json.RawMessage) reader {
	return reader{obj: obj, path: r.fieldPath(path), notes: r.notes, opts: r.opts}
}

// texts reads an object of free-form keys whose values are texts (keys may hold spaces: "PTP Date"). A
// value that is not a string is kept as its JSON text, with a note; null values are left out.
func (r reader) texts(name string) map[string]string {
	c, ok := r.child(name)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(c.obj))
	for _, k := range slices.Sorted(maps.Keys(c.obj)) {
		if _, present := c.get(k); present {
			out[k] = c.str(k)
		}
	}
	return out
}

func objectFields(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	if kindOf(raw) != "object" {
		return nil, false
	}
	return splitObject(raw)
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
