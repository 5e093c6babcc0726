// Package rulesync keeps each process's view of the follow-up rules in step with PostgreSQL: it compiles
// the version in force once per process and notices a new one (InForce), saves a checked document as a
// new version (InForce.Save, for the API and the rules file alike), and watches the rules file (File).
//
// It sits between rules (pure compilation, no I/O) and store (rows, no compilation): it imports both,
// and activities, api and cmd import it.
package rulesync

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// InForce is the compiled version of the rules in force, as this process last read it.
type InForce struct {
	store *store.Store

	mu  sync.Mutex
	set *rules.Set
}

// New reads and saves rules through st.
func New(st *store.Store) *InForce { return &InForce{store: st} }

// Current returns the compiled rules in force, or nil when none were ever stored. Each version is
// compiled once per process; every call costs one small query to notice a new version.
func (r *InForce) Current(ctx context.Context) (*rules.Set, error) {
	version, err := r.store.LatestRuleVersion(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.set != nil && r.set.Version == version {
		return r.set, nil
	}
	rec, err := r.store.RuleSet(ctx, version)
	if err != nil {
		return nil, err
	}
	set, err := rules.Compile([]byte(rec.Document), rules.Options{Stored: true})
	if err != nil {
		return nil, fmt.Errorf("compile rules version %d: %w", rec.Version, err)
	}
	set.Version = rec.Version
	r.set = set
	return set, nil
}

// Save compiles a rules document with opts (the configured targets it may name, what its url:s may
// reach), and if it is sound makes it the version in force (a new version only if its text changed),
// recording where it came from, who made it and why. A refused document, a *rules.Error, leaves the
// version in force as it was, and so does a change made from a version no longer in force
// (store.ErrConflict). It is the one way rules change, whether they come from the rules page, the API or
// the rules file.
func (r *InForce) Save(ctx context.Context, doc []byte, change store.RuleSetChange, opts rules.Options) (*rules.Set, store.RuleSetRecord, bool, error) {
	opts.Stored = false // a new version is checked whole
	set, err := rules.Compile(doc, opts)
	if err != nil {
		return nil, store.RuleSetRecord{}, false, err
	}
	rec, created, err := r.store.SaveRuleSet(ctx, set.Digest, string(doc), change)
	if err != nil {
		return nil, rec, false, err
	}
	set.Version = rec.Version
	return set, rec, created, nil
}

// LastFrom is the newest version that came from origin, or store.ErrNotFound.
func (r *InForce) LastFrom(ctx context.Context, origin string) (*store.RuleSetRecord, error) {
	return r.store.LatestRuleSetFrom(ctx, origin)
}
