package ui

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/dryrun"
	"github.com/rudderhook/rudderhook/store"
)

// editorData is what the editor's script starts from.
type editorData struct {
	// Version is the version in force that the draft starts from (0: none yet); saving refuses when
	// another has come into force since.
	Version   int64               `json:"version"`
	YAML      string              `json:"yaml"`
	Draft     rules.Draft         `json:"draft"`
	Sentences []*rules.Sentence   `json:"sentences"`
	Kinds     []rules.Kind        `json:"kinds"`
	Actions   []rules.ActionType  `json:"actions"`
	Ops       map[string][]string `json:"ops"`
	AtDates   []string            `json:"at_dates"`
	Values    map[string][]string `json:"values"`
	Targets   []string            `json:"targets"`
	CanSave   bool                `json:"can_save"`
	From      string              `json:"from"`
	To        string              `json:"to"`
}

// valueDays is how far back the editor looks for values seen in stored calls.
const valueDays = 30

// editor is GET /ui/edit: a form over a draft of the rules in force, and its advanced (YAML) view.
func (s *Server) editor(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := userOf(ctx)
	data := editorData{
		Kinds: rules.Kinds(), Actions: rules.ActionTypes(), AtDates: rules.AtDates(), Ops: map[string][]string{},
		Targets: slices.Sorted(maps.Keys(s.Targets)), CanSave: u.CanEdit(),
	}
	if data.Targets == nil {
		data.Targets = []string{}
	}
	for _, t := range []string{rules.FieldText, rules.FieldNumber, rules.FieldTime, rules.FieldDuration, rules.FieldMap} {
		data.Ops[t] = rules.OpsFor(t)
	}
	rec, err := s.Store.LatestRuleSet(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		data.YAML = "time_zone: UTC\nrules: []\n"
	case err != nil:
		s.failErr(w, r, err)
		return
	default:
		data.Version, data.YAML = rec.Version, shown(u, rec.Document)
	}
	data.Draft = rules.ParseDraft([]byte(data.YAML))
	if set, err := rules.Compile([]byte(data.YAML), rules.Options{Stored: true}); err == nil {
		data.Sentences = sentences(set)
	}
	var suggest []string
	for _, k := range data.Kinds {
		for _, f := range k.Fields {
			if f.Suggest && !slices.Contains(suggest, f.Name) {
				suggest = append(suggest, f.Name)
			}
		}
	}
	if data.Values, err = s.Store.CallValues(ctx, suggest, s.now().Add(-valueDays*24*time.Hour), 25); err != nil {
		s.failErr(w, r, err)
		return
	}
	data.From, data.To = defaultPeriod(s.now(), data.Draft.TimeZone)
	s.render(w, r, http.StatusOK, "editor", pageData{Title: "Change the rules", Nav: "edit", Page: data})
}

// defaultPeriod is the last 7 days, today included, as dates in the rules' zone (which the dry run reads
// them in).
func defaultPeriod(now time.Time, zone string) (string, string) {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		loc = time.UTC
	}
	now = now.In(loc)
	return now.AddDate(0, 0, -(activityDays - 1)).Format(time.DateOnly), now.Format(time.DateOnly)
}

func sentences(set *rules.Set) []*rules.Sentence {
	out := make([]*rules.Sentence, len(set.Rules))
	for i, r := range set.Rules {
		sn := rules.Describe(set, r)
		out[i] = &sn
	}
	return out
}

type buildRequest struct {
	Draft *rules.Draft `json:"draft"`
	YAML  *string      `json:"yaml"`
}

type buildResponse struct {
	YAML      string            `json:"yaml"`
	Draft     *rules.Draft      `json:"draft,omitempty"`
	Problems  []rules.Located   `json:"problems"`
	Sentences []*rules.Sentence `json:"sentences"`
}

// build is POST /ui/api/build: the form's draft written as YAML, or YAML read into a draft, checked as
// the rules will be, with every problem placed on the form and each rule said as a sentence. The page
// calls it as the user types.
func (s *Server) build(w http.ResponseWriter, r *http.Request) {
	var req buildRequest
	if err := readJSON(w, r, &req); err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	opts := s.ruleOptions()
	resp := buildResponse{Problems: []rules.Located{}}
	var set *rules.Set
	switch {
	case req.YAML != nil:
		resp.YAML = *req.YAML
		d := rules.ParseDraft([]byte(resp.YAML))
		resp.Draft = &d
		var err error
		set, err = rules.Compile([]byte(resp.YAML), opts)
		var refused *rules.Error
		if errors.As(err, &refused) {
			resp.Problems = rules.Locate([]byte(resp.YAML), refused.Problems)
		} else if err != nil {
			s.failErr(w, r, err)
			return
		}
	case req.Draft != nil && req.Draft.Locked:
		s.fail(w, r, http.StatusBadRequest, "the form cannot show this document: edit its YAML")
		return
	case req.Draft != nil:
		var src []byte
		src, set, resp.Problems = rules.BuildDraft(*req.Draft, opts)
		resp.YAML = string(src)
	default:
		s.fail(w, r, http.StatusBadRequest, "send a draft or yaml")
		return
	}
	if set != nil {
		resp.Sentences = sentences(set)
	}
	if resp.Problems == nil {
		resp.Problems = []rules.Located{}
	}
	writeJSON(w, http.StatusOK, resp)
}

// dryRunCalls is how many calls of the period a dry run tries at most: the newest.
const dryRunCalls = 5000

type dryRunRequest struct {
	YAML string `json:"yaml"`
	From string `json:"from"`
	To   string `json:"to"`
}

type dryRunResponse struct {
	Diff           dryrun.Diff `json:"diff"`
	From           string      `json:"from"`
	To             string      `json:"to"`
	TimeZone       string      `json:"time_zone"`
	Limited        bool        `json:"limited"`
	InForceVersion int64       `json:"in_force_version"`
}

// dryRun is POST /ui/api/dry-run: what the draft would have planned for the calls received in a period,
// beside what the rules in force plan for them, per rule and action. Nothing is stored or sent.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req dryRunRequest
	if err := readJSON(w, r, &req); err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	draft, err := rules.Compile([]byte(req.YAML), s.ruleOptions())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	loc, _ := time.LoadLocation(draft.TimeZone)
	from, errFrom := time.ParseInLocation(time.DateOnly, req.From, loc)
	to, errTo := time.ParseInLocation(time.DateOnly, req.To, loc)
	if errFrom != nil || errTo != nil || to.Before(from) {
		s.fail(w, r, http.StatusBadRequest, "give the period as two dates, the first not after the second")
		return
	}
	inForce, err := s.inForceFor(ctx, userOf(ctx))
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	calls, err := dryrun.Calls(ctx, s.Store, dryrun.Selection{
		Filter: store.CallFilter{ReceivedAfter: from, ReceivedBefore: to.AddDate(0, 0, 1)}, Limit: dryRunCalls + 1,
	})
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	resp := dryRunResponse{From: req.From, To: req.To, TimeZone: draft.TimeZone, Limited: len(calls) > dryRunCalls}
	calls = calls[:min(len(calls), dryRunCalls)]
	if inForce != nil {
		resp.InForceVersion = inForce.Version
	}
	if resp.Diff, err = dryrun.Compare(ctx, inForce, draft, calls); err != nil {
		s.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// shown is a rules document as u may see it: whole for an editor; for a viewer, with the secrets a rule
// may carry hidden (rules.Redact: header values, and all of a url but its scheme and host), since viewers
// may read the rules but not use them. Admin API callers (the admin token) see them whole.
func shown(u *user, doc string) string {
	if u.CanEdit() {
		return doc
	}
	return string(rules.Redact([]byte(doc)))
}

// inForceFor is the rules in force as u may see them (see shown), so that a viewer's dry run compares a
// draft made from the hidden document with the same hidden document: only what the viewer changed
// differs, and no sample shows a hidden value.
func (s *Server) inForceFor(ctx context.Context, u *user) (*rules.Set, error) {
	set, err := s.Rules.Current(ctx)
	if err != nil || set == nil || u.CanEdit() {
		return set, err
	}
	rec, err := s.Store.RuleSet(ctx, set.Version)
	if err != nil {
		return nil, err
	}
	hidden, err := rules.Compile([]byte(shown(u, rec.Document)), rules.Options{})
	if err != nil {
		return nil, fmt.Errorf("compile rules version %d as a viewer sees them: %w", rec.Version, err)
	}
	hidden.Version = set.Version
	return hidden, nil
}

// maxComment is the longest reason a version may carry.
const maxComment = 1000

type saveRequest struct {
	YAML        string `json:"yaml"`
	Comment     string `json:"comment"`
	BaseVersion int64  `json:"base_version"`
}

type saveResponse struct {
	Version int64 `json:"version"`
	Created bool  `json:"created"`
}

// save is POST /ui/api/save: the draft becomes the version in force, with its author and the reason,
// unless another version came into force since the draft was started.
func (s *Server) save(w http.ResponseWriter, r *http.Request) {
	u := userOf(r.Context())
	var req saveRequest
	if err := readJSON(w, r, &req); err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	comment := strings.TrimSpace(req.Comment)
	refuse := func(msg, problem string) {
		writeJSON(w, http.StatusUnprocessableEntity, errorJSON{Error: msg,
			Problems: []rules.Located{{Problem: rules.Problem{Field: "comment", Message: problem}, RuleIndex: -1, Path: "comment"}}})
	}
	switch {
	case len(comment) > maxComment:
		refuse("say why in fewer words: the history shows it on one line", "at most 1000 characters")
		return
	case comment == "":
		refuse("say why you make this change: the history shows it to everyone", "a reason is required")
		return
	}
	change := store.RuleSetChange{Origin: "ui", Author: u.Name, Comment: comment, BaseVersion: req.BaseVersion}
	set, rec, created, err := s.Rules.Save(r.Context(), []byte(req.YAML), change, s.ruleOptions())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if created {
		s.Log.Info("rules switched on from the rules page", "user", u.Name, "version", rec.Version, "rules", len(set.Rules))
	}
	writeJSON(w, http.StatusOK, saveResponse{Version: rec.Version, Created: created})
}

// ruleOptions are what the page checks drafts and saves against, as the API does: the configured
// targets, and what url:s may reach.
func (s *Server) ruleOptions() rules.Options {
	return rules.Options{Targets: s.Targets, URLs: s.URLs}
}
