package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/store/storetest"
)

// Environment of the suite. make test-faults sets the first and the binary.
const (
	envRun    = "RUDDERHOOK_FAULTS"        // 1 runs the suite
	envBinary = "RUDDERHOOK_FAULTS_BIN"    // a built rudderhook to run (default: built once into a temp dir)
	envBodies = "RUDDERHOOK_FAULTS_BODIES" // callbacks per scenario [200]
	envRate   = "RUDDERHOOK_FAULTS_RATE"   // callbacks per second [5]
	envReport = "RUDDERHOOK_FAULTS_REPORT" // write the markdown report here
	envKeep   = "RUDDERHOOK_FAULTS_KEEP"   // 1 keeps each scenario's logs and Temporal state
)

// binary is the rudderhook the scenarios run; empty when the suite is skipped.
var binary string

func TestMain(m *testing.M) {
	if os.Getenv(envRun) != "1" {
		os.Exit(storetest.Run(m)) // every test skips itself
	}
	binary = os.Getenv(envBinary)
	var tmp string
	if binary == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "rudderhook-faults-bin-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		binary = filepath.Join(tmp, "rudderhook")
		build := exec.Command("go", "build", "-o", binary, "github.com/rudderhook/rudderhook/cmd/rudderhook")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		fmt.Fprintln(os.Stderr, "faults: building", binary)
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "faults: build rudderhook:", err)
			os.Exit(1)
		}
	} else if abs, err := filepath.Abs(binary); err == nil {
		binary = abs
	}
	code := storetest.Run(m)
	if tmp != "" {
		_ = os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// scenario is one fault, injected faultAt into the load.
type scenario struct {
	name        string
	fault       string // what is done, for the report
	split       bool   // serve + worker + Temporal as separate processes (else one `dev`)
	ownPostgres bool
	inject      func(ctx context.Context, s *system) error // nil: no fault
	// odd adds callbacks whose contents a store may choke on, and redelivers some after the load, as
	// they were or corrected.
	odd bool
	// noRepeats says that no webhook may be delivered twice: nothing in the scenario cuts an attempt
	// short after its request reached the target (a target slower than a local activity's bound once
	// got most webhooks twice).
	noRepeats bool
}

// faultAt is when, after the load starts, the fault is injected.
const faultAt = 8 * time.Second

var scenarios = []scenario{
	{name: "baseline", fault: "none", split: true},
	{name: "odd-bodies", fault: "none; odd callbacks among the load, redeliveries and corrections after it", split: true, odd: true},
	{
		name: "kill-dev", fault: "`kill -9` of the whole `dev`, started again 2 s later",
		inject: func(ctx context.Context, s *system) error { return s.killAndRestart(ctx, s.dev, 2*time.Second) },
	},
	{
		name: "kill-worker", fault: "`kill -9` of `worker`, started again 5 s later", split: true,
		inject: func(ctx context.Context, s *system) error { return s.killAndRestart(ctx, s.worker, 5*time.Second) },
	},
	{
		name: "kill-serve", fault: "`kill -9` of `serve`, started again 5 s later", split: true,
		inject: func(ctx context.Context, s *system) error { return s.killAndRestart(ctx, s.serve, 5*time.Second) },
	},
	{
		name: "postgres-down", fault: "PostgreSQL stopped (fast) for 10 s", split: true, ownPostgres: true,
		inject: func(ctx context.Context, s *system) error {
			began := time.Now()
			if err := s.pg.stop(); err != nil {
				return err
			}
			s.t.Logf("PostgreSQL stopped in %s", secs(time.Since(began)))
			if err := sleepCtx(ctx, 10*time.Second); err != nil {
				return err
			}
			return s.pg.start()
		},
	},
	{
		name: "temporal-down", fault: "Temporal stopped (SIGTERM) for 15 s, started again on its state", split: true,
		inject: func(ctx context.Context, s *system) error {
			began := time.Now()
			s.temporal.stop(30 * time.Second)
			s.t.Logf("Temporal stopped in %s", secs(time.Since(began)))
			if err := sleepCtx(ctx, 15*time.Second); err != nil {
				return err
			}
			return s.restart(s.temporal)
		},
	},
	{
		name: "target-down", fault: "follow-up target down (connection refused) for 30 s", split: true,
		inject: func(ctx context.Context, s *system) error {
			s.sink.down()
			if err := sleepCtx(ctx, 30*time.Second); err != nil {
				return err
			}
			return s.sink.up()
		},
	},
	{
		name: "slow-target", fault: "follow-up target answers in 10 s, for 30 s", split: true, noRepeats: true,
		inject: func(ctx context.Context, s *system) error {
			s.sink.setSlow(10 * time.Second)
			if err := sleepCtx(ctx, 30*time.Second); err != nil {
				return err
			}
			s.sink.setSlow(0)
			return nil
		},
	},
}

func (s *system) killAndRestart(ctx context.Context, p *proc, down time.Duration) error {
	p.kill9()
	if err := sleepCtx(ctx, down); err != nil {
		return err
	}
	return s.restart(p)
}

// drainTimeout bounds the wait for everything to settle after the load: the worker retries an action
// after 10 s, 20 s, 40 s, 80 s…, and an activity lost with a killed worker is retried after its
// start-to-close timeout (one minute for an action). On two busy cores the backlog of a load alone takes
// minutes. stallTimeout ends the wait earlier when nothing has moved for that long: what is stuck stays.
const (
	drainTimeout = 10 * time.Minute
	stallTimeout = 4 * time.Minute
)

// TestFaults runs every scenario, one after the other (each uses most of two cores), prints a table per
// scenario and, with RUDDERHOOK_FAULTS_REPORT, writes the markdown report.
func TestFaults(t *testing.T) {
	if binary == "" {
		t.Skipf("the fault suite runs real processes for minutes: set %s=1 (make test-faults) to run it", envRun)
	}
	var results []*result
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := runScenario(t, sc)
			results = append(results, r)
			fmt.Print(r.text())
		})
	}
	if len(results) == 0 {
		return
	}
	report := markdownReport(results)
	fmt.Println(report)
	if path := os.Getenv(envReport); path != "" {
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Errorf("write report: %v", err)
		}
	}
}

// result is one scenario's outcome.
type result struct {
	sc                   scenario
	processes            string
	tally                *tally
	load, total, drained time.Duration // drained: from the last acknowledgement to drained; 0 if never
	faultEnd             time.Duration // from the start of the load
	loadAvg              [2]string     // the machine's 1-minute load average at the start and the end
	faultErr             error
	problems             []string
	stalled              bool // the wait ended because nothing moved for stallTimeout
}

func runScenario(t *testing.T, sc scenario) *result {
	started, avgBefore := time.Now(), loadAverage()
	s := startSystem(t, sc.split, sc.ownPostgres)
	lb, err := newLoadBuilder(runID())
	if err != nil {
		t.Fatal(err)
	}
	load, err := lb.plain(envInt(envBodies, 200))
	if err != nil {
		t.Fatal(err)
	}
	if sc.odd {
		odd, err := lb.odd()
		if err != nil {
			t.Fatal(err)
		}
		load = interleave(load, odd)
	}
	r := &result{sc: sc, processes: s.processes(), loadAvg: [2]string{avgBefore}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	snd := newSender(s.receiverURL())
	loadStart := time.Now()
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		if sc.inject == nil {
			return
		}
		if sleepCtx(ctx, faultAt) == nil {
			t.Logf("%s: injecting the fault: %s", sc.name, sc.fault)
			r.faultErr = sc.inject(ctx, s)
		}
		r.faultEnd = time.Since(loadStart)
		t.Logf("%s: fault over after %s", sc.name, secs(r.faultEnd))
	}()
	snd.run(ctx, load)
	if sc.odd {
		again, err := redeliveries(load)
		if err != nil {
			t.Fatal(err)
		}
		snd.run(ctx, again)
		load = append(load, again...)
	}
	loadEnd := time.Now()
	r.load = loadEnd.Sub(loadStart)
	<-faultDone
	if r.faultErr != nil {
		t.Errorf("the fault could not be injected or undone: %v", r.faultErr)
	}
	sent := snd.stats()

	// Drain: poll until nothing is missing or waiting, or time is up.
	deadline := time.Now().Add(drainTimeout)
	var lastErr error
	lastState, lastMove := "", time.Now()
	for {
		qctx, qcancel := context.WithTimeout(ctx, 30*time.Second)
		tl, err := s.count(qctx, load, sent)
		qcancel()
		if err == nil {
			r.tally, r.problems = tl, tl.problems()
			if len(r.problems) == 0 {
				r.drained = time.Since(loadEnd)
				break
			}
			if state := fmt.Sprint(r.problems, tl.raw, tl.fuAttempts); state != lastState {
				lastState, lastMove = state, time.Now()
			}
		}
		lastErr = err
		if time.Now().After(deadline) {
			break
		}
		if time.Since(lastMove) > stallTimeout {
			r.stalled = true
			break
		}
		_ = sleepCtx(ctx, 2*time.Second)
	}
	r.total, r.loadAvg[1] = time.Since(started), loadAverage()
	if r.tally == nil {
		t.Fatalf("could not count anything after the load: %v", lastErr)
	}
	tl := r.tally
	if sc.noRepeats && tl.repeats > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d webhooks delivered more than once, where no attempt is cut short (10 s answers, 30 s client timeout)", tl.repeats))
	}
	if unanswered := tl.bodies - tl.bodiesAcked - tl.refused; unanswered > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d callbacks neither acknowledged nor refused within %s of retries (%v)", unanswered, snd.bound, sent.lastErrors))
	}
	if len(r.problems) > 0 {
		t.Errorf("%s: %s (drained: %s)", sc.name, strings.Join(r.problems, "; "), r.drainText())
	}
	return r
}

// text is the scenario's table for stdout.
func (r *result) text() string {
	tl := r.tally
	var b strings.Builder
	fmt.Fprintf(&b, "\n=== %s: %s (%s)\n", r.sc.name, r.sc.fault, strings.ReplaceAll(r.processes, "`", ""))
	row := func(k, v string) { fmt.Fprintf(&b, "  %-26s %s\n", k, v) }
	row("sent", fmt.Sprintf("%d callbacks, %d calls (%d HTTP attempts: %s)", tl.bodies, tl.callsSent, tl.attempts, answersLine(tl.answers)))
	row("acknowledged", fmt.Sprintf("%d callbacks, %d calls; %d callbacks refused (4xx)", tl.bodiesAcked, tl.callsAcked, tl.refused))
	row("stored", fmt.Sprintf("%d calls (%d stored without an ack)", tl.stored, tl.storedUnack))
	row("duplicates", fmt.Sprintf("%d call rows, %d revisions", tl.dupRows, tl.dupRevs))
	row("lost", r.lostText())
	if r.sc.odd {
		for _, kind := range slices.Sorted(maps.Keys(tl.byKind)) {
			k := tl.byKind[kind]
			row("  "+kind, fmt.Sprintf("%d sent, %d acknowledged, %d refused; %d calls acknowledged, %d lost", k.sent, k.acked, k.refused, k.calls, k.lost))
		}
	}
	row("follow-ups delivered", fmt.Sprintf("%d of %d expected; %d raw deliveries (%d repeats); %d attempts; by status: %s",
		tl.delivered, tl.fuExpected, tl.raw, tl.repeats, tl.fuAttempts, statusLine(tl.fuByStatus)))
	row("inbox", fmt.Sprintf("%d callbacks went through it; %d pending, %d dead-lettered", tl.inboxWritten, tl.inboxPending, tl.inboxDead))
	row("call workflows", fmt.Sprintf("%d runs, %d running, %d closed not completed; %d follow-up workflows running", tl.callRuns, tl.openCalls, tl.callRunsNotCompleted, tl.openFollowUps))
	row("time", fmt.Sprintf("load %s, fault over at %s, drain %s after the last ack, scenario %s", secs(r.load), r.faultEndText(), r.drainText(), secs(r.total)))
	row("machine load average", r.loadAvg[0]+" → "+r.loadAvg[1])
	if len(r.problems) > 0 {
		row("STUCK / FAILED", strings.Join(r.problems, "; "))
	}
	return b.String()
}

func (r *result) drainText() string {
	if r.drained == 0 && r.stalled {
		return "never (nothing moved for " + secs(stallTimeout) + ")"
	}
	if r.drained == 0 {
		return "not drained in " + secs(drainTimeout)
	}
	return secs(r.drained)
}

func (r *result) lostText() string {
	if r.tally.revisions == 0 {
		return fmt.Sprint(r.tally.lost)
	}
	return fmt.Sprintf("%d calls + %d of %d corrections", r.tally.lost, r.tally.revisionsLost, r.tally.revisions)
}

func (r *result) faultEndText() string {
	if r.sc.inject == nil {
		return "–"
	}
	return secs(r.faultEnd)
}

func (r *result) stuck() string {
	if len(r.problems) == 0 {
		return "0"
	}
	return "**" + strings.Join(r.problems, "; ") + "**"
}

// markdownReport is the section of docs/reliability.md for this run.
func markdownReport(results []*result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s on %s, commit %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(), commit())
	fmt.Fprintf(&b, "Command: `%s` (%d callbacks per scenario at %d/s, 12 at a time; fault at %s).\n\n",
		command(results), envInt(envBodies, 200), int(loadRate()), secs(faultAt))
	b.WriteString("| scenario | processes | sent (callbacks / calls) | acknowledged calls (callbacks refused) | stored | duplicates | lost | follow-ups delivered (distinct / expected) | raw deliveries (repeats) | stuck | time to drain | scenario time |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		tl := r.tally
		fmt.Fprintf(&b, "| %s: %s | %s | %d / %d | %d (%d) | %d | %d | %s | %d / %d | %d (%d) | %s | %s | %s |\n",
			r.sc.name, r.sc.fault, r.processes, tl.bodies, tl.callsSent, tl.callsAcked, tl.refused, tl.stored, tl.dupRows+tl.dupRevs, r.lostText(),
			tl.delivered, tl.fuExpected, tl.raw, tl.repeats, r.stuck(), r.drainText(), secs(r.total))
	}
	b.WriteString("\nWhat the sender and the system saw:\n\n")
	b.WriteString("| scenario | HTTP attempts (answers) | load | fault over at | through the inbox (pending / dead-lettered) | call workflow runs | follow-up attempts | follow-ups by status | load average (start → end) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		tl := r.tally
		fmt.Fprintf(&b, "| %s | %d (%s) | %s | %s | %d (%d / %d) | %d | %d | %s | %s → %s |\n", r.sc.name, tl.attempts, answersLine(tl.answers),
			secs(r.load), r.faultEndText(), tl.inboxWritten, tl.inboxPending, tl.inboxDead, tl.callRuns, tl.fuAttempts, statusLine(tl.fuByStatus),
			r.loadAvg[0], r.loadAvg[1])
	}
	for _, r := range results {
		if !r.sc.odd {
			continue
		}
		fmt.Fprintf(&b, "\nThe %s scenario by kind of callback:\n\n", r.sc.name)
		b.WriteString("| kind | sent | acknowledged | refused (4xx) | calls acknowledged | of those lost |\n|---|---|---|---|---|---|\n")
		for _, kind := range slices.Sorted(maps.Keys(r.tally.byKind)) {
			k := r.tally.byKind[kind]
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |\n", kind, k.sent, k.acked, k.refused, k.calls, k.lost)
		}
	}
	return b.String()
}

// command is the make command that runs these scenarios again with the same load.
func command(results []*result) string {
	var cmd []string
	for _, name := range []string{envBodies, envRate} {
		if v := os.Getenv(name); v != "" {
			cmd = append(cmd, name+"="+v)
		}
	}
	cmd = append(cmd, "make test-faults")
	if len(results) < len(scenarios) {
		var names []string
		for _, r := range results {
			names = append(names, r.sc.name)
		}
		cmd = append(cmd, "SCENARIO='"+strings.Join(names, "|")+"'")
	}
	return strings.Join(cmd, " ")
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func loadRate() float64 { return float64(envInt(envRate, 5)) }

// runID makes the call IDs of one run unique, so that runs never meet in a shared database.
func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "fx" + hex.EncodeToString(b)
}

// machine describes where the suite ran.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	host, _ := os.Hostname()
	return fmt.Sprintf("%s (%d cores, %s, Linux %s)", host, runtime.NumCPU(), model, strings.TrimSpace(string(kernel)))
}

// loadAverage is the machine's 1-minute load average: the suite shares the cores with whatever else runs.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// commit is the source the binary was built from, marked dirty when the worktree has changes.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}
