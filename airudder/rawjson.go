package airudder

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Splitting JSON that is known to be well formed. Decode validates the whole body once; after that, the
// readers only cut it into members and elements, and unquote strings. encoding/json would validate every
// piece again at every level (and build each map by reflection), which made reading a body cost more
// CPU than acknowledging it. These functions give exactly what json.Unmarshal gives for the same input
// (FuzzSplitMatchesEncodingJSON holds them to it) and fall back to it for anything unexpected.

// splitObject returns the members of a well-formed JSON object as json.Unmarshal into
// map[string]json.RawMessage would: names unescaped, each value's bytes without the white space around
// it, the last of duplicate names winning. ok is false when raw is not an object.
func splitObject(raw []byte) (map[string]json.RawMessage, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	out := map[string]json.RawMessage{}
	if i = skipSpace(raw, i+1); i < len(raw) && raw[i] == '}' {
		return out, true
	}
	for i < len(raw) && raw[i] == '"' {
		end := stringEnd(raw, i)
		name, ok := unquote(raw[i:end])
		if !ok {
			return fallbackObject(raw)
		}
		if i = skipSpace(raw, end); i >= len(raw) || raw[i] != ':' {
			return fallbackObject(raw)
		}
		i = skipSpace(raw, i+1)
		vend := valueEnd(raw, i)
		if vend == i {
			return fallbackObject(raw)
		}
		out[name] = raw[i:vend:vend] // capped: an append to one value cannot overwrite the next
		switch i = skipSpace(raw, vend); {
		case i < len(raw) && raw[i] == ',':
			i = skipSpace(raw, i+1)
		case i < len(raw) && raw[i] == '}':
			return out, true
		default:
			return fallbackObject(raw)
		}
	}
	return fallbackObject(raw)
}

// splitArray returns the elements of a well-formed JSON array as json.Unmarshal into []json.RawMessage
// would. ok is false when raw is not an array.
func splitArray(raw []byte) ([]json.RawMessage, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	out := []json.RawMessage{}
	if i = skipSpace(raw, i+1); i < len(raw) && raw[i] == ']' {
		return out, true
	}
	for i < len(raw) {
		vend := valueEnd(raw, i)
		if vend == i {
			return fallbackArray(raw)
		}
		out = append(out, raw[i:vend:vend])
		switch i = skipSpace(raw, vend); {
		case i < len(raw) && raw[i] == ',':
			i = skipSpace(raw, i+1)
		case i < len(raw) && raw[i] == ']':
			return out, true
		default:
			return fallbackArray(raw)
		}
	}
	return fallbackArray(raw)
}

// unquote reads a JSON string: one without escapes, in valid UTF-8, is its bytes (well formed means
// without control characters), any other goes through encoding/json (which writes U+FFFD for bytes that
// are not UTF-8).
func unquote(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if in := raw[1 : len(raw)-1]; bytes.IndexByte(in, '\\') < 0 && bytes.IndexByte(in, '"') < 0 && utf8.Valid(in) {
			return string(in), true
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func fallbackObject(raw []byte) (map[string]json.RawMessage, bool) {
	var out map[string]json.RawMessage
	if json.Unmarshal(raw, &out) != nil || out == nil {
		return nil, false
	}
	return out, true
}

func fallbackArray(raw []byte) ([]json.RawMessage, bool) {
	var out []json.RawMessage
	if json.Unmarshal(raw, &out) != nil || out == nil {
		return nil, false
	}
	return out, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i] (a quote). It jumps from quote to
// quote (bytes.IndexByte is vectorised): a quote ends the string unless an odd number of backslashes
// stands before it.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		q := j + k
		escapes := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			escapes++
		}
		if escapes%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // a number, true, false or null runs to the next delimiter
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		return i
	}
}
