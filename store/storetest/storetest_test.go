package storetest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/store"
)

func TestMain(m *testing.M) { Main(m) }

// Where nothing answers at the default URL (the system's server stopped, or none installed), the tests
// get a private server of their process, with the template migrated and databases cloned from it; Run
// stops it when the tests end, and a later process removes what a killed one left.
func TestPrivateServerWhereNoneAnswers(t *testing.T) {
	if private != nil {
		t.Skip("this process already runs a private server (nothing answers at the default URL)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := "postgres://postgres@" + ln.Addr().String() + "/postgres?sslmode=disable"
	_ = ln.Close()

	ctx := context.Background()
	admin, err := resolveAdmin(ctx, "", nothing)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(private.DataDir)
	t.Cleanup(func() {
		_ = private.Stop()
		_ = os.RemoveAll(dir)
		private = nil
	})
	if admin == nothing || !strings.HasPrefix(filepath.Base(dir), privatePrefix) {
		t.Fatalf("admin URL %s, server in %s", store.Redact(admin), dir)
	}
	name, err := ensureTemplate(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, withDatabase(admin, name))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.GetContext(ctx, &tables, "SELECT count(*) FROM pg_tables WHERE tablename IN ('calls', 'follow_ups', 'inbox')"); err != nil || tables != 3 {
		t.Errorf("the template on the private server has %d of the tables (%v)", tables, err)
	}

	// A process killed before Run stopped its server leaves it running; sweep stops and removes it.
	if err := private.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sweep()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("sweep left %s (%v)", dir, err)
	}
}
