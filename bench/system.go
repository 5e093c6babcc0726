package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one child process of the rudderhook binary (serve, worker or dev).
type process struct {
	name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

// startProcess runs binary with args and env (added to a minimal environment of our own, so that the
// caller's RUDDERHOOK_* settings do not leak in), keeping the tail of its output for error messages.
func startProcess(name, binary string, args, env []string) (*process, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GOTOOLCHAIN=local"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{name: name, cmd: cmd, log: &bytes.Buffer{}, done: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			if p.log.Len() > 64<<10 { // keep the tail
				tail := append([]byte(nil), p.log.Bytes()[p.log.Len()-32<<10:]...)
				p.log.Reset()
				p.log.Write(tail)
			}
			mu.Unlock()
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process cleanly (SIGTERM), or kills it after a grace period.
func (p *process) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// exited reports, with its output, a process that ended early.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %s", p.name, lastLines(p.log.String(), 20))
	default:
		return nil
	}
}

// peakRSS is the process's peak resident set size (VmHWM), in bytes.
func (p *process) peakRSS() int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitHTTP waits until url answers 200.
func waitHTTP(ctx context.Context, url string, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if err := p.exited(); err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s: %w\n%s", p.name, url, ctx.Err(), lastLines(p.log.String(), 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sink is the follow-up target: it counts deliveries, and distinct ones by webhook-id.
type sink struct {
	*httptest.Server
	mu       sync.Mutex
	ids      map[string]bool
	total    int
	lastSeen time.Time
}

func newSink() *sink {
	s := &sink{ids: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.total++
		s.ids[r.Header.Get("webhook-id")] = true
		s.lastSeen = time.Now()
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	return s
}

// delivered is how many distinct follow-ups arrived, how many deliveries in all, and when the last one did.
func (s *sink) delivered() (distinct, total int, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids), s.total, s.lastSeen
}
