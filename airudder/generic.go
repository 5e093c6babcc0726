package airudder

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// readGeneric reads a body of a generic kind: any JSON object, kept whole. Its key is made of the values
// at the kind's KeyFields (texts, numbers and booleans, as sent), joined with "/"; when it has none, or
// one is missing, empty or not a scalar, the key is the hash of the body, and a note names the field.
func readGeneric(k Kind, d *Document, opts ParseOptions) (*Event, error) {
	ev, _, err := newEvent(k, k.On[0], d, &opts)
	if err != nil {
		return nil, err
	}
	parts := make([]string, 0, len(k.KeyFields))
	for _, path := range k.KeyFields {
		v, ok := scalarAt(d.fields, path)
		if !ok {
			ev.Notes = append(ev.Notes, ParseNote{Field: path,
				Why: "is missing, empty or not a text or number; this kind's key is made of it, so the event's key is the hash of its body"})
			parts = nil
			break
		}
		parts = append(parts, v)
	}
	if len(parts) == 0 {
		ev.Key = bodyHashKey(ev.Raw)
	} else {
		ev.Key = keyOf(parts...)
	}
	ev.Summary = fmt.Sprintf("%s event %s", k.Route, ev.Key)
	return ev, nil
}

var pathStep = regexp.MustCompile(`^([^\[]+)((?:\[[0-9]+\])*)$`)

// scalarAt finds the value at a dot path ("message.id", "items[0].id") and gives it as text: a string's
// text, or the JSON text of a number or boolean. An empty string counts as missing.
func scalarAt(fields map[string]json.RawMessage, path string) (string, bool) {
	var cur json.RawMessage
	obj := fields
	for _, step := range strings.Split(path, ".") {
		m := pathStep.FindStringSubmatch(step)
		if m == nil || obj == nil {
			return "", false
		}
		var ok bool
		if cur, ok = obj[m[1]]; !ok {
			return "", false
		}
		for _, idx := range strings.FieldsFunc(m[2], func(r rune) bool { return r == '[' || r == ']' }) {
			var elems []json.RawMessage
			i, err := strconv.Atoi(idx)
			if err != nil || kindOf(cur) != "array" || json.Unmarshal(cur, &elems) != nil || i >= len(elems) {
				return "", false
			}
			cur = elems[i]
		}
		obj, _ = objectFields(cur)
	}
	switch kindOf(cur) {
	case "string":
		var s string
		_ = json.Unmarshal(cur, &s)
		return s, s != ""
	case "number", "boolean":
		return string(cur), true
	}
	return "", false
}
