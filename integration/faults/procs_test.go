package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one rudderhook process (or PostgreSQL helper) that a scenario starts, kills and starts again.
// Every run logs to its own file in the scenario's directory.
type proc struct {
	name string
	args []string
	env  []string
	dir  string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // how the last run ended, once exited is closed
	runs   int
}

// start runs the process in its own process group, so that a kill reaches everything it started.
func (p *proc) start() error {
	p.runs++
	logPath := filepath.Join(p.dir, fmt.Sprintf("%s-%d.log", p.name, p.runs))
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(exited)
	}(p.exited)
	return nil
}

func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill9 is `kill -9` of the process group: no shutdown of any kind.
func (p *proc) kill9() {
	if !p.running() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// stop asks the process to stop (SIGTERM) and waits for it, killing it after grace.
func (p *proc) stop(grace time.Duration) {
	if !p.running() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.kill9()
	}
}

// runToEnd runs a command that exits by itself (migrate) and fails when it does not exit 0.
func (p *proc) runToEnd(timeout time.Duration) error {
	if err := p.start(); err != nil {
		return err
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.kill9()
		return fmt.Errorf("%s did not finish within %s", p.name, timeout)
	}
	if p.err != nil {
		return fmt.Errorf("%s: %w (log: %s)", p.name, p.err, tail(p.logPath(), 20))
	}
	return nil
}

func (p *proc) logPath() string {
	return filepath.Join(p.dir, fmt.Sprintf("%s-%d.log", p.name, p.runs))
}

// waitUntil polls ready until it succeeds, the process exits, or timeout passes.
func (p *proc) waitUntil(timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		last = ready(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited while starting (%v); log:\n%s", p.name, p.err, tail(p.logPath(), 30))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v; log:\n%s", p.name, timeout, last, tail(p.logPath(), 30))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// httpOK is a readiness check: GET url answers 200.
func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s = %d", url, resp.StatusCode)
		}
		return nil
	}
}

// printLogsOnFailure prints the end of every log in dir when the test has failed.
func printLogsOnFailure(t *testing.T, dir string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, path := range logs {
			t.Logf("----- %s (last lines) -----\n%s", filepath.Base(path), tail(path, 80))
		}
	})
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = lines[len(lines)-n:]
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freeAddr is a free 127.0.0.1 address. Its port is below the kernel's ephemeral range (32768 and up) and
// the range the embedded Temporal server picks its internal ports from (20000–31999), so that neither
// outgoing connections nor a restarted Temporal server take it while its process is down.
func freeAddr() (string, error) {
	for range 200 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(10000+rand.IntN(10000)))
		if l, err := net.Listen("tcp", addr); err == nil {
			_ = l.Close()
			return addr, nil
		}
	}
	return "", errors.New("no free port in 10000–19999")
}

// childEnv is this process's environment without anything that would point rudderhook elsewhere.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DATABASE_URL" || strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "RUDDERHOOK_") ||
			strings.HasPrefix(name, "AIRUDDER_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
