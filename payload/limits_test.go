package payload

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONLenIsWhatEncodingJSONWrites(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b\c`, "\n\r\t\x01\x1f", "<&>", "\u2028\u2029", "Budi ☎ 😀", "\xff\xfe", "\ufffd"} {
		b, _ := json.Marshal(s)
		if got := jsonLen(s); got != len(b) {
			t.Errorf("jsonLen(%q) = %d, encoding/json writes %d bytes", s, got, len(b))
		}
	}
}

func TestCuts(t *testing.T) {
	long := strings.Repeat("<é>", 500)
	if c := CutJSON(long, 250); jsonLen(c) > 250 || !strings.HasSuffix(c, "…") || !strings.HasPrefix(long, strings.TrimSuffix(c, "…")) {
		t.Errorf("CutJSON = %q (%d)", c, jsonLen(c))
	}
	if c := CutJSON("short", 250); c != "short" {
		t.Errorf("CutJSON of a short text = %q", c)
	}
	a, b := CutHashed(strings.Repeat("x", 400)+"a", 300), CutHashed(strings.Repeat("x", 400)+"b", 300)
	if len(a) > 300 || a == b || CutHashed(a, 300) != a {
		t.Errorf("CutHashed: %q vs %q", a, b)
	}
	if c := Cut("ééé", 5); c != "é…" {
		t.Errorf("Cut splits a character: %q", c)
	}
}
