package ui

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// activityDays is how far back the rules page counts what each rule did.
const activityDays = 7

type overviewPage struct {
	Version  *store.RuleSetRecord
	TimeZone string
	Since    time.Time
	Days     int
	Rules    []ruleView
}

type ruleView struct {
	ID          string
	Description string
	Enabled     bool
	Sentence    rules.Sentence
	Actions     []actionView
	Calls       int
	FollowUps   int
	ByStatus    []statusCount
}

type actionView struct{ Name, Type, Where string }

type statusCount struct {
	Status rules.Status
	N      int
}

// overview is GET /ui/: the rules in force, each as a sentence, with what it did in the last days.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	data := pageData{Title: "Rules in force", Nav: "overview", Notice: notice(r.URL.Query())}
	rec, err := s.Store.LatestRuleSet(ctx)
	if errors.Is(err, store.ErrNotFound) {
		s.render(w, r, http.StatusOK, "overview", data)
		return
	} else if err != nil {
		s.failErr(w, r, err)
		return
	}
	set, err := s.Rules.Current(ctx)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if set == nil { // cannot be while a version is stored; said plainly rather than failing
		s.render(w, r, http.StatusOK, "overview", data)
		return
	}
	since := s.now().Add(-activityDays * 24 * time.Hour)
	activity, err := s.Store.RuleActivitySince(ctx, since)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	page := overviewPage{Version: rec, TimeZone: set.TimeZone, Since: since, Days: activityDays}
	for _, rule := range set.Rules {
		v := ruleView{ID: rule.ID, Description: rule.Description, Enabled: rule.Enabled, Sentence: rules.Describe(set, rule)}
		for _, a := range rule.Actions {
			v.Actions = append(v.Actions, actionView{Name: a.Name, Type: actionLabel(a.Type), Where: where(a)})
		}
		if act := activity[rule.ID]; act != nil {
			v.Calls, v.FollowUps = act.Calls, act.FollowUps
			for _, st := range rules.Statuses {
				if n := act.ByStatus[st]; n > 0 {
					v.ByStatus = append(v.ByStatus, statusCount{Status: st, N: n})
				}
			}
		}
		page.Rules = append(page.Rules, v)
	}
	data.Page = page
	s.render(w, r, http.StatusOK, "overview", data)
}

func actionLabel(typ string) string {
	for _, t := range rules.ActionTypes() {
		if t.Type == typ {
			return t.Label
		}
	}
	return typ
}

// where names what an action reaches: a target by name, a URL by its host only (rules.EndpointLabel),
// Airudder by the template or workflow.
func where(a *rules.Action) string {
	switch {
	case a.Target != "":
		return "target " + a.Target
	case a.URL != "":
		return rules.EndpointLabel("", a.URL)
	case a.Type == rules.TypeAirudderRecall || a.Type == rules.TypeAirudderCancelContact:
		return "Airudder"
	}
	return ""
}

// notice is the message a page shows after a redirect, from its query. It takes version numbers only:
// any other text would be words that a link could put on the page under rudderhook's name (escaped, but
// still believed), so a query that is not a version number shows no notice at all.
func notice(q url.Values) string {
	version := func(key string) (string, bool) {
		v := q.Get(key)
		n, err := strconv.ParseInt(v, 10, 64)
		return v, err == nil && n > 0 && v == strconv.FormatInt(n, 10)
	}
	if v, ok := version("saved"); ok {
		return "Version " + v + " is in force."
	}
	if v, ok := version("unchanged"); ok {
		return "Nothing changed: version " + v + " already says exactly this."
	}
	if v, ok := version("restored"); ok {
		if as, ok := version("as"); ok {
			return "Version " + v + " is restored: it is in force as version " + as + "."
		}
	}
	return ""
}

type historyPage struct {
	InForce  int64
	Versions []versionView
	More     bool
}

type versionView struct {
	store.RuleSetRecord
	InForce bool
	First   bool
	Changes []rules.Change
	Lines   []diffLine
}

type diffLine struct{ Kind, Text string }

// historyLength is how many versions the history shows.
const historyLength = 30

// history is GET /ui/history: every version, newest first, with who made it, why, and what changed.
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	recs, err := s.Store.ListRuleSets(r.Context(), historyLength+1)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	u := userOf(r.Context())
	page := historyPage{More: len(recs) > historyLength}
	// What the user may see of each version (see shown); the changes and the line diff are between those.
	seen := make([]store.RuleSetRecord, len(recs))
	for i, rec := range recs {
		seen[i] = rec
		seen[i].Document = shown(u, rec.Document)
	}
	for i, rec := range seen[:min(len(seen), historyLength)] {
		v := versionView{RuleSetRecord: rec, InForce: i == 0}
		if i+1 < len(seen) {
			prev := seen[i+1]
			v.Changes = rules.Compare([]byte(prev.Document), []byte(rec.Document))
			if !u.CanEdit() {
				v.Changes = withHiddenChanges(v.Changes, recs[i+1].Document, recs[i].Document)
			}
			v.Lines = lineDiff(prev, rec)
		} else {
			v.First = true
		}
		page.Versions = append(page.Versions, v)
	}
	if len(page.Versions) > 0 {
		page.InForce = page.Versions[0].Version
	}
	s.render(w, r, http.StatusOK, "history", pageData{Title: "History", Nav: "history", Page: page, Notice: notice(r.URL.Query())})
}

// withHiddenChanges adds to the changes a viewer sees between two versions the rules in which only hidden
// values changed (a rotated header or URL secret), saying so without the values: otherwise the history
// would tell a viewer that nothing changed.
func withHiddenChanges(seen []rules.Change, before, after string) []rules.Change {
	for _, c := range rules.Compare([]byte(before), []byte(after)) {
		if !slices.ContainsFunc(seen, func(s rules.Change) bool { return s.Rule == c.Rule }) {
			c.Details = []string{"a value hidden from viewers (of a url or a header)"}
			seen = append(seen, c)
		}
	}
	return seen
}

// lineDiff is the unified diff of two versions' text, line by line.
func lineDiff(a, b store.RuleSetRecord) []diffLine {
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a.Document), B: difflib.SplitLines(b.Document),
		FromFile: "version " + strconv.FormatInt(a.Version, 10), ToFile: "version " + strconv.FormatInt(b.Version, 10), Context: 2,
	})
	if err != nil {
		return nil
	}
	var out []diffLine
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		kind := "same"
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			kind = "file"
		case strings.HasPrefix(l, "@@"):
			kind = "hunk"
		case strings.HasPrefix(l, "+"):
			kind = "added"
		case strings.HasPrefix(l, "-"):
			kind = "removed"
		}
		out = append(out, diffLine{Kind: kind, Text: l})
	}
	if len(out) == 1 && out[0].Text == "" {
		return nil
	}
	return out
}

// restore is POST /ui/history/{version}/restore: an earlier version's text is switched on again, as a new
// version, with who restored it and why.
func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := userOf(ctx)
	version, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "there is no such version")
		return
	}
	rec, err := s.Store.RuleSet(ctx, version)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	comment := "Restored version " + strconv.FormatInt(version, 10)
	if c := strings.TrimSpace(r.PostFormValue("comment")); len(c) > maxComment {
		s.fail(w, r, http.StatusUnprocessableEntity, "say why in fewer words: at most 1000 characters")
		return
	} else if c != "" {
		comment += ": " + c
	}
	// Restored from the history as it was shown: if another version was switched on since, the restore is
	// refused rather than undoing it unseen (as a save from the editor is).
	base, _ := strconv.ParseInt(r.PostFormValue("base"), 10, 64)
	change := store.RuleSetChange{Origin: "ui", Author: u.Name, Comment: comment, BaseVersion: base}
	_, saved, created, err := s.Rules.Save(ctx, []byte(rec.Document), change, s.ruleOptions())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if !created {
		http.Redirect(w, r, "/ui/history?unchanged="+strconv.FormatInt(saved.Version, 10), http.StatusSeeOther)
		return
	}
	s.Log.Info("rules restored on the rules page", "user", u.Name, "restored", version, "version", saved.Version)
	http.Redirect(w, r, "/ui/history?restored="+strconv.FormatInt(version, 10)+"&as="+strconv.FormatInt(saved.Version, 10), http.StatusSeeOther)
}

// originLabel says where a version came from, for the history.
func originLabel(origin string) string {
	switch {
	case origin == "ui":
		return "the rules page"
	case origin == "api":
		return "the admin API"
	case strings.HasPrefix(origin, "file:"):
		return "the rules file"
	}
	return origin
}
