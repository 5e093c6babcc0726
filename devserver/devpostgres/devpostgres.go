// Package devpostgres runs a private PostgreSQL server for `rudderhook dev` and for the tests, on a
// machine where none is running: with the server binaries already installed (PATH, Debian's
// /usr/lib/postgresql/*/bin, Fedora's PGDG /usr/pgsql-*/bin, Homebrew, Postgres.app) or, where none are,
// with those that github.com/fergusstrange/embedded-postgres downloads once and caches. The server keeps
// its data in a directory of its own (`.rudderhook/postgres` for dev), listens on 127.0.0.1 only, on a
// free port, with a password of its own, and stops when its owner calls Stop.
//
// PostgreSQL refuses to run as root. A process running as root (a container, CI) runs the server's
// programs as an unprivileged OS user instead: postgres where it exists (the server packages create it),
// else nobody.
//
// Like devserver, it is for a laptop and for tests: nothing that production runs imports it.
package devpostgres

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// DefaultRepository is where embedded-postgres downloads server binaries from (its own default).
const DefaultRepository = "https://repo1.maven.org/maven2"

// DefaultVersion is the version downloaded when no server binaries are installed.
const DefaultVersion = embeddedpostgres.V17

// minMajor is the oldest PostgreSQL that rudderhook's schema and tests run on (DROP DATABASE … WITH
// (FORCE) is 13's).
const minMajor = 13

// superuser is the server's one role, whose password is kept beside the data.
const superuser = "postgres"

// Options say where the server lives and where its binaries may come from.
type Options struct {
	// Dir holds the server: data/ (kept between runs), its password, its port, the lock of the process
	// that runs it, and downloaded binaries unpacked.
	Dir string
	Log *slog.Logger
	// Search lists the bin directories to look in for installed server binaries, in order; nil means
	// SearchPaths().
	Search []string
	// Repository is where binaries are downloaded from when none are installed [DefaultRepository].
	Repository string
	// CacheDir keeps downloaded archives for every directory that needs them [the user's cache
	// directory, rudderhook/postgres].
	CacheDir string
	// Version is the version downloaded [DefaultVersion].
	Version embeddedpostgres.PostgresVersion
	// Port is the port to listen on; 0 means the port of the last run when it is free, else a free one.
	Port uint32
}

// Server is a running private PostgreSQL.
type Server struct {
	Port    uint32
	Version string // of the binaries, e.g. "15.14"
	// Bin is the directory of the server programs it runs.
	Bin string
	// Downloaded says the binaries came from the repository (now cached), not from this machine.
	Downloaded bool
	DataDir    string
	// User is the OS user that runs the server when this process is root; empty otherwise.
	User string

	password string
	ep       *embeddedpostgres.EmbeddedPostgres
	lock     *os.File
}

// URL is the connection string of database on this server.
func (s *Server) URL(database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(superuser, s.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(int(s.Port))), Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// String says which PostgreSQL this is and where its data is, for banners and logs.
func (s *Server) String() string {
	from := s.Bin
	if s.Downloaded {
		from = "downloaded, in " + s.Bin
	}
	who := ""
	if s.User != "" {
		who = ", run as OS user " + s.User
	}
	return fmt.Sprintf("private PostgreSQL %s (%s%s), data in %s", s.Version, from, who, s.DataDir)
}

// Stop stops the server (fast: open sessions are ended) and lets another process run it.
func (s *Server) Stop() error {
	err := s.ep.Stop()
	if err != nil {
		err = fmt.Errorf("stop the private PostgreSQL in %s: %w", s.DataDir, err)
	}
	_ = s.lock.Close()
	return err
}

// NotFoundError says that no PostgreSQL could be had: what was tried, and how to install one.
type NotFoundError struct {
	// Tried lists what was looked for and why it did not do, one line each.
	Tried []string
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	b.WriteString("no PostgreSQL server to run. Tried:\n")
	for _, t := range e.Tried {
		b.WriteString("  - " + t + "\n")
	}
	b.WriteString(InstallHint)
	return b.String()
}

// InstallHint is the one command per system that installs PostgreSQL's server programs; rudderhook then
// runs its own private server with them (nothing needs to be started by hand).
const InstallHint = `Install PostgreSQL's server programs (rudderhook starts a private server with them itself):
  Debian/Ubuntu:  sudo apt install postgresql
  Fedora:         sudo dnf install postgresql-server
  macOS:          brew install postgresql@17
or set DATABASE_URL to a PostgreSQL you already have.`

// Start starts the private server in opts.Dir, creating it on the first run, and waits until it takes
// connections. Its data is kept: the next Start finds what the last run stored.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("private PostgreSQL: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s, err := start(ctx, dir, opts, lock)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	return s, nil
}

func start(ctx context.Context, dir string, opts Options, lock *os.File) (*Server, error) {
	s := &Server{DataDir: filepath.Join(dir, "data"), lock: lock}
	runAs, err := unprivileged()
	if err != nil {
		return nil, err
	}
	if runAs != nil {
		s.User = runAs.name
	}
	dataMajor := readMajor(s.DataDir)

	bin, err := chooseBinaries(ctx, dir, dataMajor, opts, runAs)
	if err != nil {
		return nil, err
	}
	s.Bin, s.Version, s.Downloaded = bin.dir, bin.version, bin.downloaded

	if s.password, err = password(dir, dataMajor != ""); err != nil {
		return nil, err
	}
	// Binaries the library runs: the real ones, or as root small scripts that run them as runAs.
	libBin := filepath.Dir(bin.dir)
	if runAs != nil {
		if libBin, err = runAs.wrappers(dir, bin.dir); err != nil {
			return nil, err
		}
		if err := runAs.own(dir); err != nil {
			return nil, err
		}
	}
	pgCtl := filepath.Join(libBin, "bin", "pg_ctl")
	stopLeftover(pgCtl, s.DataDir, opts.Log)
	if err := os.WriteFile(filepath.Join(dir, pgCtlFile), []byte(pgCtl+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("private PostgreSQL: %w", err)
	}
	if s.Port, err = choosePort(dir, opts.Port); err != nil {
		return nil, err
	}

	cfg := bin.config(embeddedpostgres.DefaultConfig()).
		Port(s.Port).
		Username(superuser).Password(s.password).Database("postgres").
		RuntimePath(filepath.Join(dir, "run")). // emptied at every start: nothing of ours lives there
		DataPath(s.DataDir).
		BinariesPath(libBin).
		Locale("C").Encoding("UTF8").
		StartTimeout(time.Minute).
		Logger(logWriter{opts.Log}).
		StartParameters(map[string]string{
			"listen_addresses": "127.0.0.1",
			// No Unix socket: its default directory (/var/run/postgresql on Debian) is the system
			// server's, which a laptop user may not write to.
			"unix_socket_directories": "",
			// The server's own log, in data/log, rather than in the temporary file the library reads.
			"logging_collector": "on",
		})
	s.ep = embeddedpostgres.NewDatabase(cfg)
	if err := s.ep.Start(); err != nil {
		return nil, fmt.Errorf("start the private PostgreSQL %s from %s in %s: %w", bin.version, bin.dir, s.DataDir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "port"), []byte(strconv.Itoa(int(s.Port))+"\n"), 0o644); err != nil {
		opts.Log.Warn("could not remember the private PostgreSQL's port", "error", err)
	}
	if dataMajor == "" {
		opts.Log.Info("created a private PostgreSQL cluster", "data", s.DataDir)
	}
	return s, nil
}

// pgCtlFile, in a server's directory, names the pg_ctl that runs it, for Remove.
const pgCtlFile = "pg_ctl-path"

// Remove stops the server in dir if the process that ran it ended without stopping it, and removes
// dir, data included. It refuses while a live process runs the server.
func Remove(dir string) error {
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if b, err := os.ReadFile(filepath.Join(dir, pgCtlFile)); err == nil {
		stopLeftover(strings.TrimSpace(string(b)), filepath.Join(dir, "data"), slog.New(slog.DiscardHandler))
	}
	return os.RemoveAll(dir)
}

// binaries is one set of server programs: the directory of pg_ctl, initdb and postgres.
type binaries struct {
	dir        string
	version    string // "15.14"
	major      int
	downloaded bool
	// cache and repository are where downloaded binaries come from.
	cache, repository string
}

// chooseBinaries picks the server programs: installed ones of the data's major version (or the first
// installed, for new data), else a download.
func chooseBinaries(ctx context.Context, dir, dataMajor string, opts Options, runAs *osUser) (binaries, error) {
	search := opts.Search
	if search == nil {
		search = SearchPaths()
	}
	installed, notes := findInstalled(search)
	for _, b := range installed {
		if dataMajor == "" || strconv.Itoa(b.major) == dataMajor {
			return b, nil
		}
	}
	var tried []string
	if len(installed) == 0 {
		where := "PATH, /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, Homebrew's and Postgres.app's directories"
		if opts.Search != nil {
			where = describeSearch(search)
		}
		tried = append(tried, "server programs (pg_ctl, initdb, postgres) installed in "+where+": none found")
	} else {
		var found []string
		for _, b := range installed {
			found = append(found, b.version+" in "+b.dir)
		}
		tried = append(tried, fmt.Sprintf("installed server programs of PostgreSQL %s, whose data is in %s: found only %s",
			dataMajor, filepath.Join(dir, "data"), strings.Join(found, ", ")))
	}
	tried = append(tried, notes...)

	version := opts.Version
	if version == "" {
		version = DefaultVersion
	}
	if dataMajor != "" && majorOf(string(version)) != dataMajor {
		v, ok := downloadable(dataMajor)
		if !ok {
			tried = append(tried, "a download of PostgreSQL "+dataMajor+": embedded-postgres offers none")
			return binaries{}, &NotFoundError{Tried: tried}
		}
		version = v
	}
	b, err := download(ctx, dir, version, opts, runAs)
	if err != nil {
		tried = append(tried, err.Error())
		return binaries{}, &NotFoundError{Tried: tried}
	}
	return b, nil
}

// SearchPaths are where PostgreSQL's server programs are installed, in the order they are tried: PATH
// first (the user's choice), then where packages put them, newest version first.
func SearchPaths() []string {
	var dirs []string
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin",                       // Debian, Ubuntu
		"/usr/pgsql-*/bin",                                // PGDG packages on Fedora, RHEL
		"/opt/homebrew/opt/postgresql@*/bin",              // Homebrew on Apple silicon
		"/opt/homebrew/opt/postgresql/bin",                //
		"/usr/local/opt/postgresql@*/bin",                 // Homebrew on Intel
		"/usr/local/opt/postgresql/bin",                   //
		"/home/linuxbrew/.linuxbrew/opt/postgresql@*/bin", // Homebrew on Linux
		"/Applications/Postgres.app/Contents/Versions/*/bin",
	} {
		matches, _ := filepath.Glob(pattern)
		slices.SortFunc(matches, func(a, b string) int { return versionInPath(b) - versionInPath(a) })
		dirs = append(dirs, matches...)
	}
	return dirs
}

var digits = regexp.MustCompile(`\d+`)

// versionInPath is the first number in a path (postgresql@17 → 17), to try the newest first.
func versionInPath(p string) int {
	n, _ := strconv.Atoi(digits.FindString(p))
	return n
}

func describeSearch(dirs []string) string {
	if len(dirs) == 0 {
		return "no directory"
	}
	return strings.Join(dirs, ", ")
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+(?:\.\d+)*)`)

// findInstalled returns the usable server programs among dirs, in order, and a note for each directory
// that has some but cannot be used.
func findInstalled(dirs []string) (found []binaries, notes []string) {
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		missing := false
		for _, prog := range []string{"pg_ctl", "initdb", "postgres"} {
			if _, err := os.Stat(filepath.Join(d, prog)); err != nil {
				missing = true
			}
		}
		if missing {
			continue
		}
		out, err := exec.Command(filepath.Join(d, "postgres"), "--version").Output()
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s/postgres --version: %v", d, err))
			continue
		}
		m := versionRE.FindStringSubmatch(string(out))
		if m == nil {
			notes = append(notes, fmt.Sprintf("%s/postgres --version said %q", d, strings.TrimSpace(string(out))))
			continue
		}
		major, _ := strconv.Atoi(majorOf(m[1]))
		if major < minMajor {
			notes = append(notes, fmt.Sprintf("PostgreSQL %s in %s: older than %d", m[1], d, minMajor))
			continue
		}
		found = append(found, binaries{dir: d, version: m[1], major: major})
	}
	return found, notes
}

func majorOf(version string) string {
	major, _, _ := strings.Cut(version, ".")
	return major
}

// readMajor is the major version of the cluster in data ("" when there is none yet).
func readMajor(data string) string {
	b, err := os.ReadFile(filepath.Join(data, "PG_VERSION"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// downloadable is the version embedded-postgres downloads for a major version.
func downloadable(major string) (embeddedpostgres.PostgresVersion, bool) {
	for _, v := range []embeddedpostgres.PostgresVersion{
		embeddedpostgres.V18, embeddedpostgres.V17, embeddedpostgres.V16, embeddedpostgres.V15, embeddedpostgres.V14, embeddedpostgres.V13,
	} {
		if majorOf(string(v)) == major {
			return v, true
		}
	}
	return "", false
}

// download chooses version's binaries from the repository: unpacked in dir/binaries/<version> from the
// cached archive, fetched once into the cache (embedded-postgres's own fetch and cache).
func download(ctx context.Context, dir string, version embeddedpostgres.PostgresVersion, opts Options, runAs *osUser) (binaries, error) {
	root := filepath.Join(dir, "binaries", string(version))
	b := binaries{dir: filepath.Join(root, "bin"), version: string(version), downloaded: true, cache: opts.CacheDir, repository: opts.Repository}
	b.major, _ = strconv.Atoi(majorOf(string(version)))
	if b.repository == "" {
		b.repository = DefaultRepository
	}
	if b.cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return binaries{}, fmt.Errorf("a download of PostgreSQL %s: no cache directory: %w", version, err)
		}
		b.cache = filepath.Join(base, "rudderhook", "postgres")
	}
	if _, err := os.Stat(filepath.Join(b.dir, "pg_ctl")); err == nil {
		return b, nil
	}
	if !cached(b.cache, version) {
		if err := reachable(ctx, b.repository); err != nil {
			return binaries{}, fmt.Errorf("a download of PostgreSQL %s from %s: %w", version, b.repository, err)
		}
		opts.Log.Info("downloading PostgreSQL's server programs (once: the archive is kept in the cache)",
			"version", version, "from", b.repository, "cache", b.cache)
	}
	if runAs == nil {
		return b, nil // the Start that runs the server fetches and unpacks them first
	}
	// As root, the server's programs run through scripts that switch user, which must exist before
	// embedded-postgres looks for pg_ctl, and then it would fetch nothing. Its fetch and unpacking
	// happen only inside a Start, which goes on to initialise a cluster: as root, initdb refuses, and
	// what this Start leaves behind is the unpacked programs, all that is wanted of it here (its
	// scratch directory is thrown away).
	scratch := filepath.Join(dir, "fetch")
	defer os.RemoveAll(scratch)
	port, err := freePort()
	if err != nil {
		return binaries{}, err
	}
	startErr := embeddedpostgres.NewDatabase(b.config(embeddedpostgres.DefaultConfig()).
		Port(port).BinariesPath(root).RuntimePath(scratch).DataPath(filepath.Join(scratch, "data")).
		Logger(logWriter{opts.Log})).Start()
	if _, err := os.Stat(filepath.Join(b.dir, "pg_ctl")); err != nil {
		return binaries{}, fmt.Errorf("a download of PostgreSQL %s from %s: %w", version, b.repository, startErr)
	}
	return b, nil
}

// config sets where the library finds or fetches b.
func (b binaries) config(c embeddedpostgres.Config) embeddedpostgres.Config {
	c = c.Version(embeddedpostgres.PostgresVersion(b.version))
	if b.downloaded {
		c = c.CachePath(b.cache).BinaryRepositoryURL(b.repository)
	}
	return c
}

// cached says whether embedded-postgres has the archive of version in cache.
func cached(cache string, version embeddedpostgres.PostgresVersion) bool {
	matches, _ := filepath.Glob(filepath.Join(cache, "embedded-postgres-binaries-"+runtime.GOOS+"-*-"+string(version)+".txz"))
	return len(matches) > 0
}

// reachable checks, within a few seconds, that the repository answers at all, so that a machine without
// it says so at once rather than after the library's untimed download gives up.
func reachable(ctx context.Context, repo string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, repo, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot be reached: %w", err)
	}
	_ = res.Body.Close()
	return nil
}

// password is the superuser's password, made on the first run and kept beside the data: the server
// listens on loopback, but other users of the machine should not read the calls it keeps.
func password(dir string, dataExists bool) (string, error) {
	path := filepath.Join(dir, "password")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if dataExists {
		return "", fmt.Errorf("the private PostgreSQL in %s lacks its password file %s: remove %s to start afresh (its data goes with it)",
			dir, path, dir)
	}
	raw := make([]byte, 18)
	_, _ = rand.Read(raw)
	pw := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("private PostgreSQL: %w", err)
	}
	return pw, nil
}

// choosePort is want, else the last run's port when it is free, else a free port.
func choosePort(dir string, want uint32) (uint32, error) {
	if want != 0 {
		return want, nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, "port")); err == nil {
		if p, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 16); err == nil && p > 0 {
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.FormatUint(p, 10))); err == nil {
				_ = ln.Close()
				return uint32(p), nil
			}
		}
	}
	return freePort()
}

func freePort() (uint32, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return uint32(ln.Addr().(*net.TCPAddr).Port), nil
}

// stopLeftover stops a server of this data directory that an earlier run left running (it was killed
// before it could stop it): the lock says no live process owns it.
func stopLeftover(pgCtl, data string, log *slog.Logger) {
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err != nil {
		return
	}
	if err := exec.Command(pgCtl, "status", "-D", data).Run(); err != nil {
		return // not running: PostgreSQL removes a stale pid file itself
	}
	log.Info("stopping the private PostgreSQL that an earlier run left running", "data", data)
	if out, err := exec.Command(pgCtl, "stop", "-D", data, "-m", "fast", "-w").CombinedOutput(); err != nil {
		log.Warn("could not stop the leftover private PostgreSQL", "error", err, "output", strings.TrimSpace(string(out)))
	}
}

// osUser is the unprivileged user that runs the server when this process is root.
type osUser struct {
	name     string
	uid, gid int
}

// unprivileged returns the user to run the server as: nil when this process is not root.
func unprivileged() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var errs []error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &osUser{name: name, uid: uid, gid: gid}, nil
	}
	return nil, fmt.Errorf("running as root, the private PostgreSQL needs an unprivileged OS user to run as (postgres or nobody): %w", errors.Join(errs...))
}

// own gives the server's directory to the user (initdb creates data/ in it), and checks that the user
// can reach it: a directory under a home closed to others cannot hold a server run as another user.
func (u *osUser) own(dir string) error {
	if err := os.Chown(dir, u.uid, u.gid); err != nil {
		return fmt.Errorf("private PostgreSQL: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("private PostgreSQL: %w", err)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("private PostgreSQL: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("running as root, the private PostgreSQL runs as OS user %s, which cannot enter %s (mode %v) to reach %s: "+
				"run rudderhook as a normal user, or from a directory others may enter, or set DATABASE_URL", u.name, d, fi.Mode().Perm(), dir)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// wrappers writes, under dir/run-as, the pg_ctl and initdb that embedded-postgres runs: scripts that
// run the real programs in bin as the user. initdb also reads the password file that the library
// wrote as root, which is handed to the user first.
func (u *osUser) wrappers(dir, bin string) (string, error) {
	root := filepath.Join(dir, "run-as")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return "", fmt.Errorf("private PostgreSQL: %w", err)
	}
	switchUser, err := switchUserCommand(u)
	if err != nil {
		return "", err
	}
	for _, prog := range []string{"pg_ctl", "initdb"} {
		script := "#!/bin/sh\n# Written by rudderhook: PostgreSQL refuses root, so " + prog + " runs as " + u.name + ".\n"
		if prog == "initdb" {
			script += `for a do case "$a" in --pwfile=*) chown ` + strconv.Itoa(u.uid) + ` "${a#--pwfile=}";; esac; done` + "\n"
		}
		script += "exec " + switchUser + " " + shellQuote(filepath.Join(bin, prog)) + ` "$@"` + "\n"
		if err := os.WriteFile(filepath.Join(root, "bin", prog), []byte(script), 0o755); err != nil {
			return "", fmt.Errorf("private PostgreSQL: %w", err)
		}
	}
	return root, nil
}

// switchUserCommand is the command line prefix that runs a program as u: util-linux's setpriv (no
// session, no PAM), else runuser.
func switchUserCommand(u *osUser) (string, error) {
	if p, err := exec.LookPath("setpriv"); err == nil {
		return fmt.Sprintf("%s --reuid=%d --regid=%d --init-groups --", shellQuote(p), u.uid, u.gid), nil
	}
	if p, err := exec.LookPath("runuser"); err == nil {
		return fmt.Sprintf("%s -u %s --", shellQuote(p), shellQuote(u.name)), nil
	}
	return "", fmt.Errorf("running as root, the private PostgreSQL runs as OS user %s, but neither setpriv nor runuser (util-linux) is installed", u.name)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// lockDir takes the directory for this process, so that two processes never run one data directory:
// the lock goes with the process, however it ends.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("private PostgreSQL: %w", err)
	}
	if err := tryLock(f); err != nil {
		owner, _ := io.ReadAll(f)
		_ = f.Close()
		return nil, fmt.Errorf("the private PostgreSQL in %s is in use by another process (pid %s): stop it, or give this one another --data directory",
			dir, strings.TrimSpace(string(owner)))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// logWriter passes what the library reads of pg_ctl's and initdb's output to the log, line by line.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(string(p)))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			w.log.Debug("postgres: " + line)
		}
	}
	return len(p), nil
}
