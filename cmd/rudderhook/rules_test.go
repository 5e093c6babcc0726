package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
)

func runRules(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := rootCmd()
	cmd.SetArgs(append([]string{"rules"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rules lint refuses a template that could run for ever, naming the rule and the action, as the API and
// the rules page do; rules test runs a template that is sound on the example but meets a call it cannot
// finish within its bounds, and says that its action would be skipped, and why.
func TestRulesCommandsKeepTemplatesBounded(t *testing.T) {
	bomb := writeFile(t, "bomb.yaml", "rules:\n  - id: r\n    when: 'true'\n    actions:\n"+
		"      - {name: chat, type: notify, url: 'http://x', text: '{{range 100000000000}}x{{break}}{{end}}'}\n") // {{break}}: code without the check fails, not hangs
	_, err := runRules(t, "lint", bomb)
	if err == nil || !strings.Contains(err.Error(), `line 5: rule "r": action "chat": text: {{range 100000000000}}: range over a number is not allowed`) {
		t.Fatalf("lint: %v", err)
	}

	wide := writeFile(t, "wide.yaml", "rules:\n  - id: r\n    when: 'true'\n    actions:\n"+
		"      - {name: chat, type: notify, url: 'http://x', text: '{{range .call.variables}}{{printf \"%100s\" .}}{{end}}'}\n")
	var env map[string]any
	if err := json.Unmarshal(airudder.ExampleCallCompleted, &env); err != nil {
		t.Fatal(err)
	}
	detail := env["Details"].([]any)[0].(map[string]any)
	vars := map[string]string{}
	for i := range 1000 {
		vars[fmt.Sprintf("v%04d", i)] = "x"
	}
	detail["Variables"] = vars
	body, _ := json.Marshal(detail)
	out, err := runRules(t, "test", wide, "--call", writeFile(t, "call.json", string(body)))
	if err != nil || !strings.Contains(out, "skipped: could not be planned for this call: text: gives more than 64 KiB") {
		t.Fatalf("test: %v\n%s", err, out)
	}
}
