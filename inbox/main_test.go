package inbox_test

import (
	"testing"

	"github.com/rudderhook/rudderhook/store/storetest"
)

// TestMain runs the tests through storetest, which stops the private PostgreSQL they start where none
// answers.
func TestMain(m *testing.M) { storetest.Main(m) }
