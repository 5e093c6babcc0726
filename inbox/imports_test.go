package inbox_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestInboxImportsOnlyTheStore keeps the arrows api → ingest → inbox → store: the inbox knows what a
// Starter does, not who it is, so it imports no package of rudderhook's but store.
func TestInboxImportsOnlyTheStore(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/rudderhook/rudderhook"
	seen := false
	for _, imp := range pkg.Imports {
		if imp == module+"/store" {
			seen = true
			continue
		}
		if imp == module || strings.HasPrefix(imp, module+"/") {
			t.Errorf("package inbox imports %s: it may import store only (ingest hands it a Starter)", imp)
		}
	}
	if !seen {
		t.Fatal("package inbox does not import store: the check reads the wrong package")
	}
}
