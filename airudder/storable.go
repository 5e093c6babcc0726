package airudder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// What PostgreSQL's jsonb (and its text columns) refuse, and what rudderhook does about it before a
// callback is acknowledged. Each class was found by FuzzStorable / TestAcknowledgedIsStorable in ingest,
// which push what the parser accepts through the real INSERT:
//
//   - a \u0000 escape (jsonb: "unsupported Unicode escape sequence"; text columns take no NUL byte) and
//     a lone UTF-16 surrogate escape such as \ud800 (jsonb: "Unicode low surrogate must follow a high
//     surrogate"; Go's decoder quietly turns it into U+FFFD): stored safely, the escape rewritten as
//     \ufffd, with a parse note on the field (see sanitizeEscapes);
//   - a number beyond numeric (more than 131072 digits before the point, or 16383 after it, exponent
//     counted): refused with 422, naming the field (see storableNumber).
const (
	maxNumericIntDigits  = 131072
	maxNumericFracDigits = 16383
)

// replacementEscape is what an unstorable escape becomes: U+FFFD, the replacement character, which is
// also what Go's own decoder makes of a lone surrogate.
var replacementEscape = []byte(`\ufffd`)

// sanitizeEscapes rewrites, in well-formed JSON text, every \u0000 escape and every \uXXXX escape of a
// UTF-16 surrogate that is not half of a pair, as \ufffd. It returns b itself when nothing needed it.
func sanitizeEscapes(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u`)) && !bytes.Contains(b, []byte(`\U`)) {
		return b
	}
	var out []byte // nil until the first rewrite
	last := 0      // b[last:i] is not yet copied to out
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
			continue
		case '\\':
		default:
			continue
		}
		// An escape: \x or \uXXXX.
		if i+1 >= len(b) || b[i+1] != 'u' || i+6 > len(b) {
			i++
			continue
		}
		r := hex4(b[i+2 : i+6])
		n := 6 // bytes of this escape that stay or go
		bad := false
		switch {
		case r == 0:
			bad = true
		case r >= 0xD800 && r <= 0xDBFF: // high surrogate: needs a low one right after
			if i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo := hex4(b[i+8 : i+12]); lo >= 0xDC00 && lo <= 0xDFFF {
					n = 12
					break
				}
			}
			bad = true
		case r >= 0xDC00 && r <= 0xDFFF: // a low surrogate on its own
			bad = true
		}
		if bad {
			out = append(out, b[last:i]...)
			out = append(out, replacementEscape...)
			last = i + 6
		}
		i += n - 1
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// hex4 reads four hex digits; -1 if they are not.
func hex4(b []byte) int {
	v, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return -1
	}
	return int(v)
}

// storableNumber reports whether a JSON number fits PostgreSQL's numeric: at most 131072 digits before the
// point and 16383 after it, once the exponent has moved the point.
func storableNumber(n string) bool {
	mantissa, exp, hasExp := strings.Cut(strings.ToLower(n), "e")
	mantissa = strings.TrimLeft(mantissa, "-")
	intPart, frac, _ := strings.Cut(mantissa, ".")
	e := 0
	if hasExp {
		v, err := strconv.Atoi(exp)
		if err != nil || v > 1<<40 || v < -(1<<40) {
			return strings.Trim(intPart+frac, "0") == "" && !strings.HasPrefix(exp, "-") // 0e99999999999 is 0
		}
		e = v
	}
	// The scale is every written decimal, trailing zeros included (numeric keeps "1.50" as 1.50).
	if len(frac)-e > maxNumericFracDigits {
		return false
	}
	digits := intPart + frac
	lead := len(digits) - len(strings.TrimLeft(digits, "0"))
	if lead == len(digits) { // zero
		return true
	}
	return len(intPart)-lead+e <= maxNumericIntDigits
}

// mightNotStore is a quick, conservative test for what scan refuses: a number (outside strings) with a
// long run of digits or an exponent of four digits or more. body is well-formed JSON (json.Valid took it),
// so a quote outside a string opens one and an unescaped quote inside closes it; text in strings is never
// a number, so hex IDs such as "16e0660e6c" (in every Airudder envelope) do not send the body to scan. It
// never says no for a body that scan would refuse.
func mightNotStore(body []byte) bool {
	run := 0 // length of the current run of digits
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '"':
			i = stringEnd(body, i) - 1
		case c >= '0' && c <= '9':
			if run++; run > maxNumericFracDigits {
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

// bigExponent reports whether b starts with an optional sign and four digits.
func bigExponent(b []byte) bool {
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	if len(b) < 4 {
		return false
	}
	for _, c := range b[:4] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// scan walks every token of body once: it checks that body is exactly one JSON value, returns that
// value's kind, and refuses numbers that a jsonb column would reject later, when the callback has already
// been acknowledged, naming each by its path (Details[0].Variables.n).
func scan(body []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object  bool
		key     string
		index   int
		wantKey bool
	}
	var stack []frame
	values := 0
	top := ""
	var problems []FieldError
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.index-1)
			}
		}
		return b.String()
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", &SyntaxError{Msg: "body is not valid JSON: " + err.Error()}
		}
		if len(stack) == 0 {
			if values++; values > 1 {
				return "", &SyntaxError{Msg: fmt.Sprintf("body has data after the JSON value, at offset %d", dec.InputOffset())}
			}
			top = tokenKind(tok)
		}
		if len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.object && f.wantKey {
				if k, ok := tok.(string); ok {
					f.key, f.wantKey = k, false
					continue
				}
			} else if f.object {
				f.wantKey = true
			} else if d, ok := tok.(json.Delim); !ok || d != ']' {
				f.index++
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{object: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
			}
		case json.Number:
			if !storableNumber(string(t)) {
				problems = append(problems, FieldError{Field: orBody(path()),
					Message: fmt.Sprintf("number %.40s… is beyond what PostgreSQL's numeric can store", t)})
			}
		}
	}
	switch {
	case values == 0:
		return "", &SyntaxError{Msg: "body is empty"}
	case len(stack) != 0:
		return "", &SyntaxError{Msg: "body is not valid JSON: unexpected end of input"}
	case len(problems) > 0:
		return "", &ValidationError{Fields: problems}
	}
	return top, nil
}

func orBody(path string) string {
	if path == "" {
		return "(body)"
	}
	return path
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
