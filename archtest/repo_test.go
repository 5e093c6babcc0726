package archtest

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// repo is what the tests read of the repository: its packages as go/parser sees them, and ARCHITECTURE.md.
type repo struct {
	root   string          // the module's directory
	module string          // its module path
	pkgs   map[string]*pkg // by directory, relative to root, slash-separated ("rules/rulesync")
	doc    string          // ARCHITECTURE.md
}

// pkg is one directory of Go files. Every file counts, whatever its build constraints: a tag only chooses
// which of the package's arrows a build has (cmd/rudderhook's embedded.go and embedded_nodev.go).
type pkg struct {
	dir         string
	files       []string        // non-test .go files
	imports     map[string]bool // every import path of its code
	testImports map[string]bool // every import path of its _test.go files (package p and p_test)

	declsOnce sync.Once
	decls     *decls
	declsErr  error
}

var loaded = sync.OnceValues(load)

// theRepo reads the repository once for all tests.
func theRepo(t *testing.T) *repo {
	t.Helper()
	r, err := loaded()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func load() (*repo, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	r := &repo{root: root, pkgs: map[string]*pkg{}}
	if r.module, err = modulePath(filepath.Join(root, "go.mod")); err != nil {
		return nil, err
	}
	doc, err := os.ReadFile(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		return nil, err
	}
	r.doc = string(doc)
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			// As the go command: testdata, and names starting with . or _, hold no package; a directory
			// with its own go.mod is another module.
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "node_modules" || exists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		p := r.pkgs[rel]
		if p == nil {
			p = &pkg{dir: rel, imports: map[string]bool{}, testImports: map[string]bool{}}
			r.pkgs[rel] = p
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		into := p.imports
		if strings.HasSuffix(name, "_test.go") {
			into = p.testImports
		} else {
			p.files = append(p.files, path)
		}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", path, imp.Path.Value, err)
			}
			into[ip] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(r.pkgs) < 10 {
		return nil, fmt.Errorf("found %d packages under %s: the walk reads the wrong tree", len(r.pkgs), root)
	}
	return r, nil
}

// moduleRoot is the nearest directory at or above the working directory that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if exists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s has no module line", gomod)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// own returns the packages of the module among import paths, as directories relative to the root.
func (r *repo) own(imports map[string]bool) map[string]bool {
	out := map[string]bool{}
	for ip := range imports {
		if ip == r.module {
			out["."] = true
		} else if rel, ok := strings.CutPrefix(ip, r.module+"/"); ok {
			out[rel] = true
		}
	}
	return out
}

// byName finds a package by the name the page qualifies its identifiers with: the last element of its
// directory (rulesync for rules/rulesync). The names are unique (TestMapNamesPackagesUniquely).
func (r *repo) byName(name string) *pkg {
	for dir, p := range r.pkgs {
		if path.Base(dir) == name {
			return p
		}
	}
	return nil
}

// decls are the names a package declares in its code (not its tests).
type decls struct {
	top     map[string]bool            // funcs, types, vars, consts
	methods map[string]map[string]bool // type → method → pointer receiver
	fields  map[string]map[string]bool // struct type → field (an embedded field by its type's name)
}

func (p *pkg) declared() (*decls, error) {
	p.declsOnce.Do(func() {
		d := &decls{top: map[string]bool{}, methods: map[string]map[string]bool{}, fields: map[string]map[string]bool{}}
		fset := token.NewFileSet()
		for _, path := range p.files {
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				p.declsErr = err
				return
			}
			for _, decl := range f.Decls {
				d.add(decl)
			}
		}
		p.decls = d
	})
	return p.decls, p.declsErr
}

func (d *decls) add(decl ast.Decl) {
	switch decl := decl.(type) {
	case *ast.FuncDecl:
		if decl.Recv == nil || len(decl.Recv.List) == 0 {
			d.top[decl.Name.Name] = true
			return
		}
		typ, ptr := receiverType(decl.Recv.List[0].Type)
		if d.methods[typ] == nil {
			d.methods[typ] = map[string]bool{}
		}
		d.methods[typ][decl.Name.Name] = ptr
	case *ast.GenDecl:
		for _, spec := range decl.Specs {
			switch spec := spec.(type) {
			case *ast.TypeSpec:
				d.top[spec.Name.Name] = true
				st, ok := spec.Type.(*ast.StructType)
				if !ok {
					continue
				}
				fields := map[string]bool{}
				for _, f := range st.Fields.List {
					for _, n := range f.Names {
						fields[n.Name] = true
					}
					if len(f.Names) == 0 {
						embedded, _ := receiverType(f.Type)
						fields[embedded] = true
					}
				}
				d.fields[spec.Name.Name] = fields
			case *ast.ValueSpec:
				for _, n := range spec.Names {
					d.top[n.Name] = true
				}
			}
		}
	}
}

// receiverType names the type of a receiver or embedded field: T, *T, T[P] or pkg.T.
func receiverType(e ast.Expr) (name string, ptr bool) {
	if star, ok := e.(*ast.StarExpr); ok {
		e, ptr = star.X, true
	}
	switch t := e.(type) {
	case *ast.IndexExpr:
		e = t.X
	case *ast.IndexListExpr:
		e = t.X
	}
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name, ptr
	case *ast.SelectorExpr:
		return t.Sel.Name, ptr
	}
	return "", ptr
}

// A table is a Markdown table of the page: its header and rows, each a list of cells.
type table struct {
	line   int // of the header, 1-based
	header []string
	rows   [][]string
	lines  []int // of each row
}

// col is the index of the first column whose header starts with prefix, or -1.
func (t table) col(prefix string) int {
	return slices.IndexFunc(t.header, func(h string) bool { return strings.HasPrefix(strings.ToLower(h), prefix) })
}

func tables(doc string) []table {
	var out []table
	var cur *table
	for i, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			cur = nil
			continue
		}
		cells := splitRow(line)
		switch {
		case cur == nil:
			out = append(out, table{line: i + 1, header: cells})
			cur = &out[len(out)-1]
		case isRule(cells):
		default:
			cur.rows = append(cur.rows, cells)
			cur.lines = append(cur.lines, i+1)
		}
	}
	return out
}

// splitRow splits a table row into its cells at the bars outside code spans.
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	inCode := false
	start := 0
	for i, c := range line {
		switch {
		case c == '`':
			inCode = !inCode
		case c == '|' && !inCode:
			cells = append(cells, strings.TrimSpace(line[start:i]))
			start = i + 1
		}
	}
	return append(cells, strings.TrimSpace(line[start:]))
}

func isRule(cells []string) bool {
	for _, c := range cells {
		if strings.Trim(c, "-: ") != "" {
			return false
		}
	}
	return true
}

var codeSpan = regexp.MustCompile("`([^`\n]+)`")

// spans are the code spans of a piece of the page, in order.
func spans(s string) []string {
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}
