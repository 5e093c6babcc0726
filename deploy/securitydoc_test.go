package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// docs/security.md promises, for each defence, the test that holds it, cited as `pkg.TestName` (run with
// go test ./pkg -run '^TestName$'). A cited test that was renamed, moved or removed would leave a promise
// that nothing holds: every citation must name a test that exists in that package, and every test the
// document names must be cited so somewhere.
func TestSecurityDocCitesTestsThatExist(t *testing.T) {
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	citation := regexp.MustCompile("`([a-z][a-z0-9_/]*)\\.(Test[A-Za-z0-9_]+)`")
	cited := citation.FindAllStringSubmatch(string(doc), -1)
	if len(cited) == 0 {
		t.Fatal("docs/security.md cites no test as `pkg.TestName`")
	}
	citedNames := map[string]bool{}
	for _, c := range cited {
		citedNames[c[2]] = true
	}
	for _, name := range regexp.MustCompile(`\bTest[A-Z][A-Za-z0-9_]*`).FindAllString(string(doc), -1) {
		if !citedNames[name] {
			t.Errorf("docs/security.md names %s but never cites it as `pkg.%s`, so nothing checks it", name, name)
		}
	}
	tests := map[string]map[string]bool{} // package directory → its test functions
	for _, c := range cited {
		pkg, name := c[1], c[2]
		if tests[pkg] == nil {
			tests[pkg] = testFuncs(t, filepath.Join("..", filepath.FromSlash(pkg)))
		}
		if !tests[pkg][name] {
			t.Errorf("docs/security.md cites %s.%s, but ./%s has no func %s", pkg, name, pkg, name)
		}
	}
}

// testFuncs are the names of the Test functions of the _test.go files in dir (not below it).
func testFuncs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			funcs[string(m[1])] = true
		}
	}
	return funcs
}
