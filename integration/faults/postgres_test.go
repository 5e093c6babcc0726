package faults

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pgBin is where Debian's PostgreSQL 15 server binaries are.
const pgBin = "/usr/lib/postgresql/15/bin"

// postgres is a PostgreSQL server of the suite's own, in a temporary directory on its own port, so that a
// scenario can stop it without touching the PostgreSQL that other tests share. It runs as the postgres
// OS user (the server refuses to run as root).
type postgres struct {
	dir  string // owned by the postgres user: data/, the log and the socket
	addr string
}

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "pg_ctl")); err != nil {
		t.Fatalf("the PostgreSQL-stop scenario runs its own server from %s: %v", pgBin, err)
	}
	dir, err := os.MkdirTemp("", "rudderhook-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, the suite's PostgreSQL needs the postgres OS user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	pg := &postgres{dir: dir, addr: addr}
	if out, err := pg.run("initdb", "-D", pg.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pg.run("pg_ctl", "-D", pg.data(), "-m", "immediate", "-w", "stop") })
	return pg
}

func (pg *postgres) data() string { return filepath.Join(pg.dir, "data") }

// url is the connection string of database name on this server.
func (pg *postgres) url(name string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", pg.addr, name)
}

// start starts the server on its port and waits until it accepts connections.
func (pg *postgres) start() error {
	_, port, _ := net.SplitHostPort(pg.addr)
	opts := fmt.Sprintf("-p %s -c listen_addresses=127.0.0.1 -k %s", port, pg.dir)
	if out, err := pg.run("pg_ctl", "-D", pg.data(), "-l", filepath.Join(pg.dir, "postgres.log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("start PostgreSQL: %w\n%s\n%s", err, out, tail(filepath.Join(pg.dir, "postgres.log"), 20))
	}
	return nil
}

// stop stops the server the way an operator or a restart does (fast: open sessions are cut).
func (pg *postgres) stop() error {
	if out, err := pg.run("pg_ctl", "-D", pg.data(), "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("stop PostgreSQL: %w\n%s", err, out)
	}
	return nil
}

// run runs one of the server's programs, as the postgres user when this process is root.
func (pg *postgres) run(program string, args ...string) (string, error) {
	argv := append([]string{filepath.Join(pgBin, program)}, args...)
	if os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = pg.dir
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		return string(out), fmt.Errorf("%s timed out", program)
	}
	return strings.TrimSpace(string(out)), err
}
