package archtest

import (
	"fmt"
	"go/build"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A mapRow is one row of the page's table of packages: what the package's code imports of the module's
// packages, and what its tests import besides.
type mapRow struct {
	line           int
	layer          string
	imports, tests map[string]bool
}

// packageMap reads the table of packages: header "package | layer | … | imports … | its tests … |", one
// row per package, its layer one of the drawing's, each import cell a list of packages in backticks (or
// "—").
func (r *repo) packageMap(t *testing.T) map[string]mapRow {
	t.Helper()
	var found []table
	for _, tb := range tables(r.doc) {
		if len(tb.header) > 0 && strings.EqualFold(tb.header[0], "package") && tb.col("layer") > 0 && tb.col("imports") > 0 && tb.col("its tests") > 0 {
			found = append(found, tb)
		}
	}
	if len(found) != 1 {
		t.Fatalf("ARCHITECTURE.md has %d tables headed \"package | layer | … | imports … | its tests … |\"; the map is one such table", len(found))
	}
	tb := found[0]
	layer, imports, tests := tb.col("layer"), tb.col("imports"), tb.col("its tests")
	out := map[string]mapRow{}
	for i, row := range tb.rows {
		line := tb.lines[i]
		names := spans(row[0])
		if len(names) != 1 || len(row) <= max(layer, imports, tests) {
			t.Errorf("ARCHITECTURE.md:%d: a row of the map starts with one package in backticks and has every column", line)
			continue
		}
		dir := names[0]
		if _, dup := out[dir]; dup {
			t.Errorf("ARCHITECTURE.md:%d: %s has two rows", line, dir)
		}
		out[dir] = mapRow{line: line, layer: row[layer], imports: packageList(t, line, row[imports]), tests: packageList(t, line, row[tests])}
	}
	if len(out) < 10 {
		t.Fatalf("the map lists %d packages: the test reads the wrong table", len(out))
	}
	return out
}

// packageList reads one import cell: packages in backticks, separated by commas, or "—" for none.
func packageList(t *testing.T, line int, cell string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, s := range spans(cell) {
		out[s] = true
	}
	if rest := strings.Trim(codeSpan.ReplaceAllString(cell, ""), ", —-"); rest != "" {
		t.Errorf("ARCHITECTURE.md:%d: an import cell holds packages in backticks and commas only (or —), not %q", line, rest)
	}
	return out
}

// The map lists every package of the module, and nothing else: a new package is not done until the page
// says what it is and what it may import.
func TestMapListsEveryPackage(t *testing.T) {
	r := theRepo(t)
	m := r.packageMap(t)
	for _, dir := range slices.Sorted(maps.Keys(r.pkgs)) {
		if _, ok := m[dir]; !ok {
			t.Errorf("package %s is not on the map: add its row to the table of packages in ARCHITECTURE.md (what it is, what it imports)", dir)
		}
	}
	for dir, row := range m {
		if r.pkgs[dir] == nil {
			t.Errorf("ARCHITECTURE.md:%d: the map lists %s, which is no package of the module", row.line, dir)
		}
		for _, cell := range []map[string]bool{row.imports, row.tests} {
			for imp := range cell {
				if r.pkgs[imp] == nil {
					t.Errorf("ARCHITECTURE.md:%d: %s's row names %s, which is no package of the module", row.line, dir, imp)
				}
			}
		}
	}
}

// The page names a package's identifiers by the last element of its directory (`rulesync.InForce`), so
// that name must be unique.
func TestMapNamesPackagesUniquely(t *testing.T) {
	r := theRepo(t)
	seen := map[string]string{}
	for _, dir := range slices.Sorted(maps.Keys(r.pkgs)) {
		name := path.Base(dir)
		if other, dup := seen[name]; dup {
			t.Errorf("packages %s and %s both end in %q: ARCHITECTURE.md could not say which one `%s.Name` means", other, dir, name, name)
		}
		seen[name] = dir
	}
}

// The map's arrows are the module's imports, exactly: a package's code imports the packages its row
// lists and no other, and its tests (package p and p_test) import besides those only the ones its row
// lists for tests. An import the map does not draw is a new arrow to think about (and draw, or take
// out); an arrow no import makes is a map that drifted.
func TestImportsAreTheMapsArrows(t *testing.T) {
	r := theRepo(t)
	m := r.packageMap(t)
	for _, dir := range slices.Sorted(maps.Keys(r.pkgs)) {
		p, row := r.pkgs[dir], m[dir]
		if row.imports == nil {
			continue // TestMapListsEveryPackage says so
		}
		code := r.own(p.imports)
		for _, imp := range slices.Sorted(maps.Keys(code)) {
			if !row.imports[imp] {
				t.Errorf("%s imports %s, which the map does not allow: take the import out, or draw the arrow (ARCHITECTURE.md:%d, imports)", dir, imp, row.line)
			}
		}
		for _, imp := range slices.Sorted(maps.Keys(row.imports)) {
			if !code[imp] {
				t.Errorf("ARCHITECTURE.md:%d: the map draws %s → %s, but no file of %s imports it: take it out of the row", row.line, dir, imp, dir)
			}
		}
		tests := r.own(p.testImports)
		delete(tests, dir)
		for imp := range code {
			delete(tests, imp)
		}
		for _, imp := range slices.Sorted(maps.Keys(tests)) {
			if !row.tests[imp] {
				t.Errorf("the tests of %s import %s, which the map does not allow: add it to the row's tests (ARCHITECTURE.md:%d), or take the import out", dir, imp, row.line)
			}
		}
		for _, imp := range slices.Sorted(maps.Keys(row.tests)) {
			if !tests[imp] {
				t.Errorf("ARCHITECTURE.md:%d: the map says the tests of %s import %s, but none does beyond what its code imports: take it out of the row", row.line, dir, imp)
			}
		}
	}
}

// Some packages must not reach a library at all, whatever the map allows them of rudderhook's: the table
// "package | its code never imports" says which (an import path forbids its subpackages too).
func TestNeverImports(t *testing.T) {
	r := theRepo(t)
	var rules []table
	for _, tb := range tables(r.doc) {
		if len(tb.header) > 1 && strings.EqualFold(tb.header[0], "package") && tb.col("its code never imports") > 0 {
			rules = append(rules, tb)
		}
	}
	if len(rules) == 0 {
		t.Fatal(`ARCHITECTURE.md has no table headed "package | its code never imports"`)
	}
	checked := 0
	for _, tb := range rules {
		never := tb.col("its code never imports")
		for i, row := range tb.rows {
			names := spans(row[0])
			if len(names) != 1 || r.pkgs[names[0]] == nil {
				t.Errorf("ARCHITECTURE.md:%d: a row starts with one package of the module in backticks", tb.lines[i])
				continue
			}
			p := r.pkgs[names[0]]
			if len(p.imports) == 0 {
				t.Errorf("ARCHITECTURE.md:%d: %s's code imports nothing: the rule would hold for any package", tb.lines[i], p.dir)
			}
			for _, forbidden := range spans(row[never]) {
				checked++
				for imp := range p.imports {
					if imp == forbidden || strings.HasPrefix(imp, forbidden+"/") {
						t.Errorf("%s imports %s: ARCHITECTURE.md:%d says its code never imports %s", p.dir, imp, tb.lines[i], forbidden)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("the never-imports table forbids nothing")
	}
}

// A layer of the drawing: its name, at the left margin, and what is drawn in it.
type layer struct{ name, text string }

// layers reads the drawing at the top of the page (its first fenced block): its layers, top to bottom.
// A layer starts at a line whose name is indented by two spaces, and runs to the next one; rules of ─ and
// lines that start with "(" (a note under the name) are not names.
func (r *repo) layers(t *testing.T) []layer {
	t.Helper()
	drawing, ok := firstFence(r.doc)
	if !ok {
		t.Fatal("ARCHITECTURE.md has no drawing (a fenced block)")
	}
	var out []layer
	for _, line := range strings.Split(drawing, "\n") {
		text := strings.TrimLeft(line, " ")
		if text == "" || strings.HasPrefix(text, "─") {
			continue
		}
		if len(line)-len(text) == 2 && !strings.HasPrefix(text, "(") {
			name, rest, _ := strings.Cut(text, " ")
			out = append(out, layer{name: name})
			line = rest
		}
		if len(out) == 0 {
			t.Fatal("the drawing in ARCHITECTURE.md starts with no layer's name")
		}
		out[len(out)-1].text += line + "\n"
	}
	if len(out) < 3 {
		t.Fatalf("the drawing has %d layers: the test reads it wrong", len(out))
	}
	return out
}

func firstFence(doc string) (string, bool) {
	_, rest, ok := strings.Cut(doc, "\n```")
	if !ok {
		return "", false
	}
	_, rest, _ = strings.Cut(rest, "\n") // the fence's info string
	block, _, ok := strings.Cut(rest, "\n```")
	return block, ok
}

// testsLayer is the drawing's layer of test packages and test helpers: their code may import any layer.
const testsLayer = "tests"

// The drawing at the top of the page shows every package in the layer its row names, so that it cannot
// fall behind the table: a new package is drawn where it sits.
func TestDrawingShowsEachPackageInItsLayer(t *testing.T) {
	r := theRepo(t)
	m := r.packageMap(t)
	layers := r.layers(t)
	for _, dir := range slices.Sorted(maps.Keys(m)) {
		row := m[dir]
		i := slices.IndexFunc(layers, func(l layer) bool { return l.name == row.layer })
		if i < 0 {
			t.Errorf("ARCHITECTURE.md:%d: %s's layer %q is none of the drawing's", row.line, dir, row.layer)
			continue
		}
		word := regexp.MustCompile(`(^|[^A-Za-z0-9_/])` + regexp.QuoteMeta(dir) + `($|[^A-Za-z0-9_/])`)
		if !word.MatchString(layers[i].text) {
			t.Errorf("the drawing in ARCHITECTURE.md does not show %s in its layer, %s", dir, row.layer)
		}
	}
}

// An arrow points along a layer or down, never up: what is below knows nothing of what is above, and no
// code imports a test package.
func TestArrowsPointDown(t *testing.T) {
	r := theRepo(t)
	m := r.packageMap(t)
	layers := r.layers(t)
	rank := map[string]int{}
	for i, l := range layers {
		rank[l.name] = i
	}
	arrows := 0
	for _, dir := range slices.Sorted(maps.Keys(m)) {
		from := m[dir]
		if from.layer == testsLayer {
			continue
		}
		for _, imp := range slices.Sorted(maps.Keys(from.imports)) {
			to, ok := m[imp]
			if !ok {
				continue // TestMapListsEveryPackage says so
			}
			arrows++
			switch {
			case to.layer == testsLayer:
				t.Errorf("ARCHITECTURE.md:%d: %s (%s) imports %s, a package for tests", from.line, dir, from.layer, imp)
			case rank[to.layer] < rank[from.layer]:
				t.Errorf("ARCHITECTURE.md:%d: %s (%s) imports %s (%s): an arrow up", from.line, dir, from.layer, imp, to.layer)
			}
		}
	}
	if arrows < 20 {
		t.Fatalf("checked %d arrows: the test reads the wrong table", arrows)
	}
}

// References of the page's code spans, by the convention its head states:
//
//	pkg.Name             a func, type, var or const of the package whose directory ends in pkg
//	pkg.Type.Member      a method (either receiver) or field of that type
//	(*pkg.Type).Method   a method with a pointer receiver; (pkg.Type).Method one with a value receiver
//	Name                 (in a hop table's functions only) a func, type, var, const or method of any
//	                     type of the package named last before it in the same cell
//
// A trailing () is allowed and ignored.
var (
	methodRef = regexp.MustCompile(`^\((\*?)([A-Za-z_]\w*)\.([A-Za-z_]\w*)\)\.([A-Za-z_]\w*)$`)
	qualRef   = regexp.MustCompile(`^([A-Za-z_]\w*)\.([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?$`)
	bareRef   = regexp.MustCompile(`^[A-Za-z_]\w*$`)
)

// errNotOurs is a qualified name whose qualifier is no package of the module.
var errNotOurs = fmt.Errorf("not a package of the module")

// resolve checks one reference; current is the package a bare name belongs to. It returns the package the
// reference names, for the bare names that follow it (even when the name itself is wrong, so that one
// rename is one error).
func (r *repo) resolve(ref, current string) (string, error) {
	ref = strings.TrimSuffix(ref, "()")
	lookup := func(name string) (*decls, error) {
		p := r.byName(name)
		if p == nil {
			return nil, errNotOurs
		}
		return p.declared()
	}
	if m := methodRef.FindStringSubmatch(ref); m != nil {
		ptr, pkg, typ, method := m[1] == "*", m[2], m[3], m[4]
		d, err := lookup(pkg)
		if err != nil {
			return "", err
		}
		isPtr, ok := d.methods[typ][method]
		switch {
		case !ok:
			return pkg, fmt.Errorf("%s has no method %s.%s", pkg, typ, method)
		case ptr && !isPtr:
			return pkg, fmt.Errorf("%s.%s.%s has a value receiver: write (%s.%s).%s", pkg, typ, method, pkg, typ, method)
		case !ptr && isPtr:
			return pkg, fmt.Errorf("%s.%s.%s has a pointer receiver: write (*%s.%s).%s", pkg, typ, method, pkg, typ, method)
		}
		return pkg, nil
	}
	if m := qualRef.FindStringSubmatch(ref); m != nil {
		pkg, name, member := m[1], m[2], m[3]
		d, err := lookup(pkg)
		if err != nil {
			return "", err
		}
		if !d.top[name] {
			return pkg, fmt.Errorf("%s declares no %s", pkg, name)
		}
		if member != "" {
			if _, ok := d.methods[name][member]; !ok && !d.fields[name][member] {
				return pkg, fmt.Errorf("%s.%s has no method or field %s", pkg, name, member)
			}
		}
		return pkg, nil
	}
	if bareRef.MatchString(ref) {
		if current == "" {
			return "", fmt.Errorf("a bare name comes after a qualified one (pkg.Name) in its cell")
		}
		d, err := lookup(current)
		if err != nil {
			return "", err
		}
		if d.top[ref] {
			return current, nil
		}
		for _, ms := range d.methods {
			if _, ok := ms[ref]; ok {
				return current, nil
			}
		}
		return current, fmt.Errorf("%s declares no func, type, value or method %s", current, ref)
	}
	return "", fmt.Errorf("not a reference by the page's convention (pkg.Name, (*pkg.Type).Method, or a bare name)")
}

// hopTables are the page's tables with a functions and a files column.
func hopTables(doc string) []table {
	var out []table
	for _, tb := range tables(doc) {
		if tb.col("function") >= 0 && tb.col("file") >= 0 {
			out = append(out, tb)
		}
	}
	return out
}

// Every function, method and type the hop table names exists, where it says; every file it names too.
// A rename that the page does not follow fails here.
func TestHopTableNamesCodeThatExists(t *testing.T) {
	r := theRepo(t)
	hops := hopTables(r.doc)
	if len(hops) == 0 {
		t.Fatal("ARCHITECTURE.md has no hop table (columns functions and files)")
	}
	refs, files := 0, 0
	for _, tb := range hops {
		fn, fl := tb.col("function"), tb.col("file")
		for i, row := range tb.rows {
			line := tb.lines[i]
			if len(row) <= max(fn, fl) {
				t.Errorf("ARCHITECTURE.md:%d: the row lacks a column", line)
				continue
			}
			current := ""
			for _, ref := range spans(row[fn]) {
				refs++
				pkg, err := r.resolve(ref, current)
				if err != nil {
					t.Errorf("ARCHITECTURE.md:%d: `%s`: %v", line, ref, err)
				}
				if pkg != "" {
					current = pkg
				}
			}
			for _, f := range spans(row[fl]) {
				files++
				if !r.isPath(f) || !exists(filepath.Join(r.root, filepath.FromSlash(f))) {
					t.Errorf("ARCHITECTURE.md:%d: file `%s` does not exist", line, f)
				}
			}
		}
	}
	if refs < 20 || files < 10 {
		t.Fatalf("the hop tables name %d functions and %d files: the test reads the wrong columns", refs, files)
	}
}

// Everywhere else on the page, a path (`store/migrations`, `api/openapi.json`) exists and a qualified
// name of one of the module's packages (`config.Load`, `api.Server.RulesPage`) resolves.
func TestMapNamesWhatExists(t *testing.T) {
	r := theRepo(t)
	skip := map[int][]int{} // line → the columns of a hop table's row there that the test above checks
	for _, tb := range hopTables(r.doc) {
		for _, line := range tb.lines {
			skip[line] = []int{tb.col("function"), tb.col("file")}
		}
	}
	checked := 0
	for i, line := range strings.Split(r.doc, "\n") {
		text := line
		if cols, ok := skip[i+1]; ok {
			cells := splitRow(strings.TrimSpace(line))
			for _, c := range cols {
				if c < len(cells) {
					cells[c] = ""
				}
			}
			text = strings.Join(cells, "|")
		}
		for _, s := range spans(text) {
			if r.isPath(s) {
				checked++
				if !exists(filepath.Join(r.root, filepath.FromSlash(s))) {
					t.Errorf("ARCHITECTURE.md:%d: `%s` does not exist (paths are from the repository's root)", i+1, s)
				}
				continue
			}
			if !methodRef.MatchString(strings.TrimSuffix(s, "()")) && !qualRef.MatchString(strings.TrimSuffix(s, "()")) {
				continue
			}
			if _, err := r.resolve(s, ""); err == errNotOurs {
				continue // `rc.Kind`, `make release`: not a name of ours
			} else if err != nil {
				t.Errorf("ARCHITECTURE.md:%d: `%s`: %v", i+1, s, err)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d names and paths on the page: the test reads it wrong", checked)
	}
}

var (
	pathLike = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/?$`)
	fileExts = map[string]bool{".go": true, ".json": true, ".sql": true, ".md": true, ".yaml": true, ".yml": true,
		".js": true, ".html": true, ".css": true, ".png": true, ".txt": true, ".mod": true, ".sum": true, ".sh": true}
)

// isPath says whether a code span is a path of the repository: a file name with an extension of ours
// (`api/webhooks.go`, `go.mod`), or a path whose first element is an entry of the root (`store/migrations`).
// `net/http` and `github.com/lib/pq` are import paths, not ours.
func (r *repo) isPath(s string) bool {
	if !pathLike.MatchString(s) || strings.HasPrefix(s, ".") {
		return false
	}
	if fileExts[path.Ext(s)] {
		return true
	}
	first, _, found := strings.Cut(s, "/")
	return found && exists(filepath.Join(r.root, first))
}

// Only dev links the Temporal server and the embedded PostgreSQL: the release build (-tags nodev, as
// `make release` and the container image build it) reaches neither devserver nor devserver/devpostgres,
// and no package it reaches imports Temporal's server or embedded-postgres itself. Build constraints count
// here, as the go command reads them.
func TestReleaseBuildLinksNoDevServer(t *testing.T) {
	r := theRepo(t)
	ctx := build.Default
	ctx.BuildTags = append(slices.Clone(ctx.BuildTags), "nodev")
	forbidden := []string{"go.temporal.io/server", "github.com/fergusstrange/embedded-postgres"}
	via := map[string]string{"cmd/rudderhook": ""} // package → the package that imports it
	queue := []string{"cmd/rudderhook"}
	chain := func(dir string) string {
		s := dir
		for p := via[dir]; p != ""; p = via[p] {
			s = p + " → " + s
		}
		return s
	}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		p, err := ctx.ImportDir(filepath.Join(r.root, filepath.FromSlash(dir)), 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, ip := range p.Imports {
			for i, f := range forbidden {
				if f != "" && (ip == f || strings.HasPrefix(ip, f+"/")) {
					t.Errorf("the release build links %s: %s imports %s", f, chain(dir), ip)
					forbidden[i] = "" // once is enough to say
				}
			}
			for imp := range r.own(map[string]bool{ip: true}) {
				if _, seen := via[imp]; !seen {
					via[imp] = dir
					queue = append(queue, imp)
				}
			}
		}
	}
	for _, dev := range []string{"devserver", "devserver/devpostgres", "airudder/airuddertest"} {
		if _, ok := via[dev]; ok {
			t.Errorf("the release build links %s: %s (only cmd/rudderhook/embedded.go, built without nodev, may import it)", dev, chain(dev))
		}
	}
	for _, must := range []string{"api", "worker", "activities", "store"} {
		if _, ok := via[must]; !ok {
			t.Fatalf("the release build does not reach %s: the test follows the wrong imports", must)
		}
	}
}
