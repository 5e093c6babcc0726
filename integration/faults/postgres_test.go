package faults

import (
	"context"
	"os"
	"testing"

	"github.com/rudderhook/rudderhook/devserver/devpostgres"
)

// postgres is a PostgreSQL server of the suite's own, in a temporary directory on its own port, so that a
// scenario can stop it without touching the PostgreSQL that other tests share. It is dev's private
// server (devserver/devpostgres): the installed server programs, run as the postgres OS user when the
// suite runs as root.
type postgres struct {
	opts devpostgres.Options
	srv  *devpostgres.Server
}

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	dir, err := os.MkdirTemp("", "rudderhook-faults-pg-")
	if err == nil {
		err = os.Chmod(dir, 0o755) // the server's OS user enters it when the suite runs as root
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pg := &postgres{opts: devpostgres.Options{Dir: dir}}
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	pg.opts.Port = pg.srv.Port // the same address after a restart, as an operator's restart keeps it
	t.Cleanup(func() { _ = pg.srv.Stop() })
	return pg
}

// url is the connection string of database name on this server.
func (pg *postgres) url(name string) string { return pg.srv.URL(name) }

// start starts the server on its port and waits until it accepts connections.
func (pg *postgres) start() error {
	srv, err := devpostgres.Start(context.Background(), pg.opts)
	if err != nil {
		return err
	}
	pg.srv = srv
	return nil
}

// stop stops the server the way an operator or a restart does (fast: open sessions are cut).
func (pg *postgres) stop() error { return pg.srv.Stop() }
