package devpostgres

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
	_ "github.com/lib/pq"
)

// serverDir is a directory for a private server that, when the tests run as root, the unprivileged user
// that runs the server can reach (t.TempDir's are closed to others).
func serverDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rudderhook-devpostgres-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// installed is the first usable set of server programs on this machine; where none is installed, those
// a first Start downloads (the download test serves them from a repository of its own).
func installed(t *testing.T) binaries {
	t.Helper()
	found, _ := findInstalled(SearchPaths())
	if len(found) > 0 {
		return found[0]
	}
	s, err := Start(context.Background(), Options{Dir: serverDir(t), Log: testLog(t)})
	if err != nil {
		t.Fatalf("these tests run PostgreSQL's server programs; none are installed, and: %v", err)
	}
	_ = s.Stop()
	major, _ := strconv.Atoi(majorOf(s.Version))
	return binaries{dir: s.Bin, version: s.Version, major: major, downloaded: true}
}

func mustStart(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func query(t *testing.T, s *Server, stmt string, args ...any) *sql.Rows {
	t.Helper()
	db, err := sql.Open("postgres", s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	rows, err := db.Query(stmt, args...)
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	t.Cleanup(func() { _ = rows.Close() })
	return rows
}

// The server runs from the installed programs, on a port of its own with a password, and what it stored
// is there after a stop and a start; a second process cannot run the same directory meanwhile.
func TestPrivateServerKeepsItsDataAcrossRestarts(t *testing.T) {
	want := installed(t)
	dir := serverDir(t)
	opts := Options{Dir: dir, Log: testLog(t)}
	s := mustStart(t, opts)
	if (s.Bin != want.dir && !want.downloaded) || s.Version != want.version || s.Downloaded != want.downloaded {
		t.Errorf("runs %s %s (downloaded %v), want %s %s (downloaded %v)", s.Version, s.Bin, s.Downloaded, want.version, want.dir, want.downloaded)
	}
	if s.Port == 0 || !strings.Contains(s.URL("x"), fmt.Sprintf("@127.0.0.1:%d/x?", s.Port)) {
		t.Errorf("port %d, URL %s", s.Port, s.URL("x"))
	}
	if !strings.Contains(s.String(), want.version) || !strings.Contains(s.String(), filepath.Join(dir, "data")) {
		t.Errorf("String() = %q, want the version and the data directory", s.String())
	}
	query(t, s, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('from the first run')").Close()

	if _, err := Start(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("a second Start on a directory in use: %v", err)
	}
	port := s.Port
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	s = mustStart(t, opts)
	if s.Port != port {
		t.Errorf("the second run listens on %d, the first on %d: the URL should stay the same while the port is free", s.Port, port)
	}
	rows := query(t, s, "SELECT v FROM kept")
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 1 || got[0] != "from the first run" {
		t.Errorf("after a restart the table holds %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "password")); err != nil || !strings.Contains(s.URL("x"), strings.TrimSpace(string(b))) {
		t.Errorf("the password kept beside the data (%v) is not the URL's", err)
	}
}

// With no programs installed, the binaries come from the repository, which is asked once: the next start
// uses what was unpacked, and another directory the cached archive.
func TestDownloadsFromTheRepositoryOnce(t *testing.T) {
	have := installed(t)
	jar := packageAsRepositoryJar(t, have.dir)
	sum := sha256.Sum256(jar)
	var jars, other atomic.Int32
	repo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wantPrefix := "/io/zonky/test/postgres/embedded-postgres-binaries-"
		switch {
		case r.Method == http.MethodHead && r.URL.Path == "/":
			other.Add(1)
		case strings.HasPrefix(r.URL.Path, wantPrefix) && strings.HasSuffix(r.URL.Path, "-"+have.version+".jar"):
			jars.Add(1)
			_, _ = w.Write(jar)
		case strings.HasPrefix(r.URL.Path, wantPrefix) && strings.HasSuffix(r.URL.Path, ".jar.sha256"):
			_, _ = w.Write([]byte(hex.EncodeToString(sum[:])))
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
		}
	}))
	defer repo.Close()

	cache := serverDir(t)
	opts := Options{Dir: serverDir(t), Log: testLog(t), Search: []string{}, Repository: repo.URL, CacheDir: cache,
		Version: embeddedpostgres.PostgresVersion(have.version)}
	s := mustStart(t, opts)
	if !s.Downloaded || s.Version != have.version || !strings.HasPrefix(s.Bin, opts.Dir) {
		t.Errorf("runs %s from %s (downloaded %v), want %s downloaded into %s", s.Version, s.Bin, s.Downloaded, have.version, opts.Dir)
	}
	query(t, s, "CREATE TABLE kept (v text)").Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s = mustStart(t, opts)
	query(t, s, "SELECT * FROM kept").Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	other2 := opts
	other2.Dir = serverDir(t)
	mustStart(t, other2)
	if n := jars.Load(); n != 1 {
		t.Errorf("the repository was asked for the archive %d times, want once", n)
	}
	if n := other.Load(); n != 1 {
		t.Errorf("the repository was checked %d times, want once (before the one download)", n)
	}
}

// packageAsRepositoryJar packs the server programs of bin as embedded-postgres's repository serves
// them: a jar (zip) holding a .txz whose bin/ has the programs.
func packageAsRepositoryJar(t *testing.T, bin string) []byte {
	t.Helper()
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, prog := range []string{"pg_ctl", "initdb", "postgres"} {
		b, err := os.ReadFile(filepath.Join(bin, prog))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, "bin", prog), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The libraries and shared files stay where they are installed (the programs find them relative to
	// themselves): the archive links to them rather than carrying 30 MB that this test does not check.
	entries, err := os.ReadDir(filepath.Dir(bin))
	if err != nil {
		t.Fatal(err)
	}
	members := []string{"bin"}
	for _, e := range entries {
		if e.Name() != "bin" {
			if err := os.Symlink(filepath.Join(filepath.Dir(bin), e.Name()), filepath.Join(tree, e.Name())); err != nil {
				t.Fatal(err)
			}
			members = append(members, e.Name())
		}
	}
	txz := filepath.Join(t.TempDir(), "postgres.txz")
	cmd := exec.Command("tar", append([]string{"-C", tree, "-cJf", txz}, members...)...)
	cmd.Env = append(os.Environ(), "XZ_OPT=-0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar -cJf (needs xz): %v\n%s", err, out)
	}
	archive, err := os.ReadFile(txz)
	if err != nil {
		t.Fatal(err)
	}
	var jar bytes.Buffer
	zw := zip.NewWriter(&jar)
	w, err := zw.Create("postgres-linux-x86_64.txz")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(archive)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return jar.Bytes()
}

// With nothing installed and no repository, the error says what was tried and how to install a server.
func TestNothingToRunSaysWhatWasTriedAndHowToInstall(t *testing.T) {
	empty := t.TempDir()
	_, err := Start(context.Background(), Options{Dir: serverDir(t), Log: testLog(t), Search: []string{empty},
		Repository: "http://127.0.0.1:1/maven2", CacheDir: t.TempDir()})
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("Start = %v, want a NotFoundError", err)
	}
	for _, want := range []string{empty + ": none found", "http://127.0.0.1:1/maven2", "cannot be reached",
		"sudo apt install postgresql", "sudo dnf install postgresql-server", "brew install postgresql@17", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%s", want, err)
		}
	}
}

// Data made by another major version is never initialised afresh (embedded-postgres would empty the
// directory): without programs of its version, Start refuses and the data stays.
func TestDataOfAnotherVersionIsLeftAlone(t *testing.T) {
	have := installed(t)
	dir := serverDir(t)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	other := "99"
	for _, f := range []struct{ name, text string }{{"PG_VERSION", other + "\n"}, {"precious", "calls"}} {
		if err := os.WriteFile(filepath.Join(data, f.name), []byte(f.text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Dir: dir, Log: testLog(t), Search: []string{have.dir},
		Repository: "http://127.0.0.1:1/maven2", CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL "+other) || !strings.Contains(err.Error(), have.version) {
		t.Errorf("Start on data of PostgreSQL %s with only %s installed: %v", other, have.version, err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "precious")); err != nil || string(b) != "calls" {
		t.Errorf("the data was touched: %q, %v", b, err)
	}
}

// A server whose process ended without stopping it (killed: its lock went with it) is stopped by the
// next Start of its directory, or by Remove.
func TestLeftoverServerOfAKilledProcessIsStopped(t *testing.T) {
	installed(t)
	dir := serverDir(t)
	opts := Options{Dir: dir, Log: testLog(t)}
	s := mustStart(t, opts)
	_ = s.lock.Close() // what the kernel does when the process dies
	s = mustStart(t, opts)
	query(t, s, "SELECT 1").Close()

	_ = s.lock.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(s.Port)))
	if err := Remove(dir); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		_ = conn.Close()
		t.Errorf("the leftover server still listens at %s", addr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Remove left %s (%v)", dir, err)
	}
}
