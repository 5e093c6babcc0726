package rulesync_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

func TestRulesFileMakesVersionsAndRefusesBadFiles(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	var logs bytes.Buffer
	rf := &rulesync.File{Path: path, Rules: rulesync.New(s), Log: slog.New(slog.NewTextHandler(&logs, nil))}
	write := func(doc string) {
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		rf.Load(ctx)
	}
	version := func() int64 {
		rec, err := s.LatestRuleSet(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Version
	}
	good := "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n"

	write(good)
	v1 := version()
	rf.Load(ctx) // unchanged
	if version() != v1 {
		t.Errorf("an unchanged file made a new version")
	}
	write(strings.Replace(good, "'true'", "call.intention == 1", 1))
	if version() != v1 || !strings.Contains(logs.String(), "the rules file was refused") || !strings.Contains(logs.String(), `rule \"r\": when`) {
		t.Errorf("a bad file: version %d (want %d), log:\n%s", version(), v1, logs.String())
	}
	write(strings.Replace(good, "text: hi", "text: hello", 1))
	rec, _ := s.LatestRuleSet(ctx)
	if rec.Version <= v1 || !strings.Contains(rec.Document, "hello") || rec.Origin != "file:"+path {
		t.Errorf("a changed file: %+v", rec)
	}
	// A second watcher of the same file (another replica) makes no version of its own.
	other := &rulesync.File{Path: path, Rules: rulesync.New(s), Log: slog.New(slog.DiscardHandler)}
	other.Load(ctx)
	if again, _ := s.LatestRuleSet(ctx); again.Version != rec.Version {
		t.Errorf("a second replica made version %d", again.Version)
	}
}

// A change made on the rules page after the file was loaded stays in force when the process restarts or
// another replica starts with the same file; the file wins again when it changes.
func TestRulesFileDoesNotUndoLaterChangesAtStart(t *testing.T) {
	t.Parallel()
	s := store.New(storetest.DB(t))
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	good := "rules:\n  - id: r\n    when: 'true'\n    actions: [{type: notify, url: 'http://x', text: hi}]\n"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	(&rulesync.File{Path: path, Rules: rulesync.New(s), Log: quiet}).Load(ctx)
	page := strings.Replace(good, "text: hi", "text: from the page", 1)
	_, onPage, created, err := rulesync.New(s).Save(ctx, []byte(page), store.RuleSetChange{Origin: "ui", Author: "Ana", Comment: "c"}, rules.Options{})
	if err != nil || !created {
		t.Fatal(created, err)
	}
	restarted := &rulesync.File{Path: path, Rules: rulesync.New(s), Log: quiet}
	restarted.Load(ctx)
	if rec, _ := s.LatestRuleSet(ctx); rec.Version != onPage.Version {
		t.Errorf("a restart put the file back in force: version %d, want %d", rec.Version, onPage.Version)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(good, "text: hi", "text: edited file", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	restarted.Load(ctx)
	if rec, _ := s.LatestRuleSet(ctx); rec.Version <= onPage.Version || rec.Author != rulesync.AuthorFile || !strings.Contains(rec.Document, "edited file") {
		t.Errorf("a changed file: %+v", rec)
	}
}
