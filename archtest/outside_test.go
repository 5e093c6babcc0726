package archtest

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// outsideFile lists what lies outside the repository, and so spells what the tests here look for: the
// one file not read for it.
const outsideFile = "archtest/testdata/outside.txt"

// outside is what outsideFile lists: the directories beside the repository and the names of the notes
// kept there.
type outside struct {
	dirs  []string
	notes *regexp.Regexp
	// machine matches an absolute path into the machine the project is built on, not a URL's path.
	machine *regexp.Regexp
}

func readOutside(t *testing.T, root string) outside {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(outsideFile)))
	if err != nil {
		t.Fatal(err)
	}
	var o outside
	var notes []string
	for i, line := range strings.Split(string(b), "\n") {
		kind, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch {
		case kind == "" || strings.HasPrefix(kind, "#"):
		case kind == "dir":
			o.dirs = append(o.dirs, value)
		case kind == "note":
			notes = append(notes, regexp.QuoteMeta(value))
		case kind == "machine":
			o.machine = regexp.MustCompile(`(^|[^A-Za-z0-9_.~/-])` + regexp.QuoteMeta(value) + `[A-Za-z0-9_./-]*`)
		default:
			t.Fatalf("%s:%d: %q is no dir, note or machine", outsideFile, i+1, line)
		}
	}
	if len(o.dirs) == 0 || len(notes) == 0 || o.machine == nil {
		t.Fatalf("%s lists %d directories, %d notes and no machine path: the test reads it wrong", outsideFile, len(o.dirs), len(notes))
	}
	o.notes = regexp.MustCompile(`\b(` + strings.Join(notes, "|") + `)\b`)
	return o
}

// sourceFiles are the repository's files, relative to its root: git's tracked and not-ignored files, or
// where git cannot say (an exported tree), every file outside hidden directories.
func sourceFiles(t *testing.T, root string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" && exists(filepath.Join(root, f)) { // a file deleted but not yet staged is listed
				files = append(files, f)
			}
		}
		return files
	}
	t.Logf("git ls-files: %v; walking the tree instead", err)
	var files []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// textFiles reads every text file of the repository (a file with a NUL byte is binary: an image).
func textFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range sourceFiles(t, root) {
		if f == outsideFile {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 {
			continue
		}
		out[f] = string(b)
	}
	if len(out) < 50 {
		t.Fatalf("read %d text files: the test reads the wrong tree", len(out))
	}
	return out
}

var (
	// A relative path that climbs (not an ellipsis, ".../tel:"): from its file's directory, it must lead
	// to a file of the repository.
	climbing = regexp.MustCompile(`(?:^|[^.])((?:\.\./)+[A-Za-z0-9_./{}*-]*)`)
	// A Markdown link or image to a file of the repository.
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// Nothing in the repository points at a file outside it: a clone has no notes beside it, so a decision
// the code cites must live in the repository (docs/design.md), and every relative path that climbs
// (../) and every Markdown link leads to a file of the repository.
func TestNothingPointsOutsideTheRepository(t *testing.T) {
	r := theRepo(t)
	out := readOutside(t, r.root)
	files := textFiles(t, r.root)
	names := map[string]bool{}
	for f := range files {
		names[filepath.Base(f)] = true
	}
	for f, text := range files {
		dir := filepath.Dir(filepath.Join(r.root, filepath.FromSlash(f)))
		md := strings.HasSuffix(f, ".md")
		for i, line := range strings.Split(text, "\n") {
			where := f + ":" + strconv.Itoa(i+1)
			for _, m := range out.machine.FindAllStringSubmatch(line, -1) {
				t.Errorf("%s: %q is a path on one machine, outside the repository", where, strings.TrimPrefix(m[0], m[1]))
			}
			for _, m := range out.notes.FindAllString(line, -1) {
				if !names[m] {
					t.Errorf("%s: %s is no file of the repository: cite docs/design.md (a decision, by its heading)", where, m)
				}
			}
			for _, d := range out.dirs {
				if strings.Contains(line, d) {
					t.Errorf("%s: %s is beside the repository, not in it, and a clone lacks it: cite docs/design.md", where, d)
				}
			}
			for _, m := range climbing.FindAllStringSubmatch(line, -1) {
				rel := m[1]
				target := filepath.Join(dir, filepath.FromSlash(rel))
				fromRoot, err := filepath.Rel(r.root, target)
				switch {
				case err != nil || fromRoot == ".." || strings.HasPrefix(fromRoot, ".."+string(filepath.Separator)):
					t.Errorf("%s: %s leads outside the repository", where, rel)
				case !exists(target) && !strings.ContainsAny(rel, "{}*"):
					t.Errorf("%s: %s does not exist", where, rel)
				}
			}
			if !md {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				link, _, _ := strings.Cut(m[1], "#")
				if link == "" || strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
					continue
				}
				if !exists(filepath.Join(dir, filepath.FromSlash(link))) {
					t.Errorf("%s: the link to %s leads to no file", where, m[1])
				}
			}
		}
	}
}

var (
	designCitation = regexp.MustCompile(`docs/design\.md(: |, ")`)
	heading        = regexp.MustCompile(`(?m)^#{2,4} +(.+?)\s*$`)
	commentBreak   = regexp.MustCompile(`\n[ \t]*(//|#)?[ \t]*`)
)

// Code and docs cite a decision by its heading ("docs/design.md: Ack after durability", or
// docs/design.md, "Ack after durability"): the heading must be there, or the citation points nowhere.
func TestDesignCitationsNameADecision(t *testing.T) {
	r := theRepo(t)
	design, err := os.ReadFile(filepath.Join(r.root, "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	var headings []string
	for _, m := range heading.FindAllStringSubmatch(string(design), -1) {
		headings = append(headings, m[1])
	}
	if len(headings) < 5 {
		t.Fatalf("docs/design.md has %d headings: the test reads it wrong", len(headings))
	}
	cited := 0
	for f, text := range textFiles(t, r.root) {
		// A citation may run over a line break, and in Go over a comment's next line.
		flat := commentBreak.ReplaceAllString(text, " ")
		for _, loc := range designCitation.FindAllStringIndex(flat, -1) {
			cited++
			rest := flat[loc[1]:]
			ok := false
			for _, h := range headings {
				if strings.HasPrefix(rest, h) {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("%s cites docs/design.md by %.50q…, which starts with none of its headings", f, rest)
			}
		}
	}
	if cited == 0 {
		t.Fatal("found no citation of the design document: the test reads the wrong files")
	}
}
