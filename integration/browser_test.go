package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"
)

// browser is a headless Chromium driven through the DevTools protocol, for tests of the rules page as a
// person uses it.
type browser struct {
	t   *testing.T
	ctx context.Context
	// shots is where screenshots go: docs/ui/ with RUDDERHOOK_SCREENSHOTS=1 (make screenshots), else a
	// temporary directory.
	shots string
}

// chromiumPath finds Debian's chromium (or RUDDERHOOK_CHROMIUM). Locally a test without it skips and says
// how to get it; in CI (CI set), whose .ci/run installs it, a missing browser fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("RUDDERHOOK_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the browser tests: .ci/run installs it (apt-get install -y chromium)")
	}
	t.Skip("browser tests skipped: chromium is not installed (apt-get install -y chromium, or set RUDDERHOOK_CHROMIUM)")
	return ""
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(cdp.DefaultExecAllocatorOptions[:],
		cdp.ExecPath(path), cdp.Headless, cdp.NoSandbox, cdp.DisableGPU, cdp.NoFirstRun,
		cdp.Flag("disable-quic", true), cdp.Flag("disable-background-networking", true),
		cdp.Flag("disable-component-update", true), cdp.Flag("disable-sync", true),
		cdp.UserDataDir(t.TempDir()), cdp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := cdp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := cdp.NewContext(actx, cdp.WithLogf(t.Logf))
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shots: t.TempDir()}
	if os.Getenv("RUDDERHOOK_SCREENSHOTS") != "" {
		b.shots = filepath.Join("..", "docs", "ui")
		if err := os.MkdirAll(b.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// do runs steps and fails the test, saying which, when one fails.
func (b *browser) do(what string, steps ...cdp.Action[cdp.Void]) {
	b.t.Helper()
	if err := cdp.Do(b.ctx, steps...); err != nil {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text is the text of the first element matching css, once it is visible.
func (b *browser) text(css string) string {
	b.t.Helper()
	b.do("wait for "+css, cdp.WaitVisible(cdp.CSS(css)))
	s, err := cdp.Run(b.ctx, cdp.Text(cdp.CSS(css)))
	if err != nil {
		b.t.Fatalf("read %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

// eval runs JavaScript in the page and returns its value.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := cdp.Run(b.ctx, cdp.Evaluate[T](js, cdp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor waits until a JavaScript condition is true; when it is not in time, the test fails with a
// screenshot of the page.
func (b *browser) waitFor(what, js string) {
	b.t.Helper()
	eventually(shotOnFailure{b.t, b, what}, what+" ("+js+")", func() bool { return eval[bool](b, js) })
}

// shotOnFailure is a test that saves a screenshot of the page before it fails.
type shotOnFailure struct {
	*testing.T
	b    *browser
	what string
}

func (s shotOnFailure) Fatalf(format string, args ...any) {
	s.T.Helper()
	s.b.screenshot("timeout-" + strings.ReplaceAll(s.what, " ", "-"))
	s.T.Fatalf(format, args...)
}

// typeInto replaces the text of a field as a person would: select it all, then type.
func (b *browser) typeInto(css, text string) {
	b.t.Helper()
	b.do("type into "+css, cdp.WaitVisible(cdp.CSS(css)), cdp.Focus(cdp.CSS(css)),
		cdp.Evaluate[cdp.Void](`document.activeElement.select && document.activeElement.select()`), cdp.SendKeys(cdp.CSS(css), text))
}

// screenshot saves the whole page as name.png.
func (b *browser) screenshot(name string) { b.save(name, cdp.FullScreenshot(100)) }

// screenshotOf saves the part of the page that css selects as name.png.
func (b *browser) screenshotOf(name, css string) { b.save(name, cdp.Screenshot(cdp.CSS(css))) }

func (b *browser) save(name string, shot cdp.Action[[]byte]) {
	b.t.Helper()
	png, err := cdp.Run(b.ctx, shot)
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("save screenshot: %v", err)
	}
	b.t.Logf("screenshot %s", path)
}
