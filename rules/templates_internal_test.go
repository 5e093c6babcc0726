package rules

import (
	"strings"
	"testing"
	"time"
)

// text/template cannot be stopped from outside: a template checks the time itself, on every write, every
// function call and every turn of a range, so one that runs out of its time stops there.
func TestTemplateStopsWhenItsTimeIsUp(t *testing.T) {
	data := map[string]any{"items": []any{1, 2, 3}}
	over := budget{until: time.Now().Add(-time.Millisecond), what: "the test's time"}
	for _, src := range []string{
		`text`,                              // a write
		`{{if upper "x"}}{{end}}`,           // a function, writing nothing
		`{{range .items}}{{end}}`,           // a range's turn, writing nothing
		`{{if json .items}}{{end}}`,         // another function
		`{{range $i, $v := .items}}{{end}}`, // a range with its index
	} {
		bt, err := parseTemplate("text", src)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := render(bt, data, over); err == nil || err.Error() != "text: ran out of time: the test's time" {
			t.Errorf("%s: %q, %v", src, out, err)
		}
		if out, err := render(bt, data, planBudget()); err != nil {
			t.Errorf("%s with time left: %q, %v", src, out, err)
		}
	}
}

// Checking a document stops when its time is up, with a problem that says where.
func TestCompileStopsWhenItsTimeIsUp(t *testing.T) {
	src := "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n"
	_, err := compile([]byte(src), Options{}, budget{until: time.Now().Add(-time.Millisecond), what: "the test's time"})
	re, ok := err.(*Error)
	if !ok || len(re.Problems) != 1 || re.Problems[0].Rule != "r" || !strings.Contains(re.Problems[0].Message, "checking the rules took longer than 3s") {
		t.Fatalf("err = %v", err)
	}
	if _, err := compile([]byte(src), Options{}, budget{until: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
}
