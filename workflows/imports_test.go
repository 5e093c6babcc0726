package workflows_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestWorkflowsReachTheWorldOnlyThroughActivities keeps the deterministic package free of I/O: workflow
// code may import the domain packages and activities (to name them), never a storage package, a database
// driver or an HTTP server. Transitive imports through activities are allowed: only activities run them.
func TestWorkflowsReachTheWorldOnlyThroughActivities(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{
		"github.com/rudderhook/rudderhook/store",
		"github.com/rudderhook/rudderhook/ingest",
		"github.com/rudderhook/rudderhook/api",
		"github.com/rudderhook/rudderhook/rules/rulesync",
		"database/sql",
		"github.com/jmoiron/sqlx",
		"github.com/lib/pq",
		"github.com/pressly/goose",
		"net/http",
		"github.com/gin-gonic/gin",
		"os",
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("found no imports: the check would pass for any package")
	}
	for _, imp := range pkg.Imports {
		for _, f := range forbidden {
			if imp == f || strings.HasPrefix(imp, f+"/") {
				t.Errorf("package workflows imports %s: workflow code must reach I/O through activities only", imp)
			}
		}
	}
}
