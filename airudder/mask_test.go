package airudder_test

import (
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
)

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+8613800138721": "+86••••••••721",
		"0812345678":     "•••••••678",
		"123":            "•••",
		"":               "•••",
	} {
		if got := airudder.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
