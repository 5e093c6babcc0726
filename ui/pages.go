package ui

import (
	"errors"
	"net/http"
	"net/url"
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

// where names what an action reaches: a target by name, a URL by its host only (an incoming-webhook URL
// carries its secret in its path), Airudder by the template or workflow.
func where(a *rules.Action) string {
	switch {
	case a.Target != "":
		return "target " + a.Target
	case a.URL != "":
		if u, err := url.Parse(a.URL); err == nil {
			return u.Host
		}
		return "a URL"
	case a.Type == rules.TypeAirudderRecall || a.Type == rules.TypeAirudderCancelContact:
		return "Airudder"
	}
	return ""
}

// notice is the message a page shows after a redirect, from its query.
func notice(q url.Values) string {
	switch {
	case q.Get("saved") != "":
		return "Version " + q.Get("saved") + " is in force."
	case q.Get("unchanged") != "":
		return "Nothing changed: version " + q.Get("unchanged") + " already says exactly this."
	case q.Get("restored") != "":
		return "Version " + q.Get("restored") + " is restored: it is in force as version " + q.Get("as") + "."
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
	page := historyPage{More: len(recs) > historyLength}
	for i, rec := range recs[:min(len(recs), historyLength)] {
		v := versionView{RuleSetRecord: rec, InForce: i == 0}
		if i+1 < len(recs) {
			prev := recs[i+1]
			v.Changes = rules.Compare([]byte(prev.Document), []byte(rec.Document))
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
