package rulesync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// Authors of the versions that no person signed in for.
const (
	AuthorFile = "rules file"
	AuthorAPI  = "admin API"
)

// File keeps the rules in force in step with a file: it saves the file as a new version whenever its
// content changes. A refused file is reported and leaves the version in force as it was, and a file that
// did not change is not read into a new version: several replicas watching one file (a Kubernetes
// ConfigMap) make one version. At start, a file whose text is the last version that came from it is not
// saved again, so that a change made since on the rules page (or through the API) stays in force when a
// process restarts or a replica starts; the file wins again when it changes.
type File struct {
	Path  string
	Rules *InForce
	// Options are what the file is checked against: the configured targets, what url:s may reach.
	Options rules.Options
	Log     *slog.Logger

	last [32]byte
}

// Load saves the file if it changed since the last Load.
func (w *File) Load(ctx context.Context) {
	doc, err := os.ReadFile(w.Path)
	if err != nil {
		w.Log.Error("cannot read the rules file; the rules in force stay", "file", w.Path, "error", err)
		return
	}
	sum := sha256.Sum256(doc)
	if sum == w.last {
		return
	}
	origin := "file:" + w.Path
	if w.last == ([32]byte{}) {
		if rec, err := w.Rules.LastFrom(ctx, origin); err == nil && rec.Digest == hex.EncodeToString(sum[:]) {
			w.last = sum
			w.Log.Info("the rules file is the version it last made; later changes stay in force", "file", w.Path, "file_version", rec.Version)
			return
		}
	}
	w.last = sum
	set, rec, created, err := w.Rules.Save(ctx, doc, store.RuleSetChange{Origin: origin, Author: AuthorFile}, w.Options)
	var refused *rules.Error
	switch {
	case errors.As(err, &refused):
		w.Log.Error("the rules file was refused; the rules in force stay", "file", w.Path, "problems", strings.Join(refused.Lines(), " | "))
	case err != nil:
		w.last = [32]byte{} // try again next time
		w.Log.Error("could not store the rules file", "file", w.Path, "error", err)
	case created:
		w.Log.Info("rules loaded: a new version is in force", "file", w.Path, "version", rec.Version, "rules", len(set.Rules))
	default:
		w.Log.Info("rules file matches the version in force", "file", w.Path, "version", rec.Version)
	}
}

// Watch loads the file every interval until ctx ends.
func (w *File) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Load(ctx)
		}
	}
}
