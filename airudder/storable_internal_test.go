package airudder

import (
	"encoding/json"
	"strings"
	"testing"
)

// mightNotStore decides whether a body is walked token by token; it must never pass a body that scan
// refuses, and should not send the usual body (hex IDs in strings) to scan.
func TestMightNotStoreLooksAtNumbersOnly(t *testing.T) {
	for body, want := range map[string]bool{
		string(ExampleCallCompleted):                              false, // "16e0660e6c…" is text
		`{"a":"9e9999","b":"` + strings.Repeat("7", 20000) + `"}`: false,
		`{"a":"x\"1e9999\"","b":1}`:                               false, // an escaped quote does not end the string
		`{"a":"\\","n":1e9999}`:                                   true,  // an escaped backslash does
		`{"n":1e9999}`:                                            true,
		`{"n":1E-12345}`:                                          true,
		`{"n":[0.` + strings.Repeat("1", 16384) + `]}`:            true,
		`{"n":12345678,"e":"e"}`:                                  false,
	} {
		if !json.Valid([]byte(body)) {
			t.Fatalf("%.40s…: not JSON", body)
		}
		if got := mightNotStore([]byte(body)); got != want {
			t.Errorf("mightNotStore(%.60s…) = %v, want %v", body, got, want)
		}
		if _, err := scan([]byte(body)); err != nil && !mightNotStore([]byte(body)) {
			t.Errorf("%.60s…: scan refuses it (%v) but mightNotStore passed it", body, err)
		}
	}
}
