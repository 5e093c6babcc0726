package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
)

type ruleSummary struct {
	ID          string   `json:"id"`
	Description string   `json:"description"`
	When        string   `json:"when"`
	Enabled     bool     `json:"enabled"`
	Actions     []string `json:"actions"`
}

func summarise(set *rules.Set) []ruleSummary {
	out := make([]ruleSummary, 0, len(set.Rules))
	for _, r := range set.Rules {
		rs := ruleSummary{ID: r.ID, Description: r.Description, When: r.When, Enabled: r.Enabled}
		for _, a := range r.Actions {
			rs.Actions = append(rs.Actions, a.Name+" ("+a.Type+")")
		}
		out = append(out, rs)
	}
	return out
}

// getRules is GET /v1/rules: the version in force, its document and its rules.
func (s *Server) getRules(c *gin.Context) {
	rec, err := s.Store.LatestRuleSet(c.Request.Context())
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(c, newError(http.StatusNotFound, "no_rules", "no rules were ever loaded: PUT /v1/rules or set RUDDERHOOK_RULES_FILE"))
		return
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	set, err := rules.Compile([]byte(rec.Document), rules.Options{Stored: true})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"version": rec.Version, "origin": rec.Origin, "author": rec.Author, "comment": rec.Comment,
		"created_at": rec.CreatedAt, "digest": rec.Digest,
		"time_zone": set.TimeZone, "rules": summarise(set), "document": rec.Document,
	})
}

// listRuleVersions is GET /v1/rules/versions: the newest versions first, without their documents.
func (s *Server) listRuleVersions(c *gin.Context) {
	recs, err := s.Store.ListRuleSets(c.Request.Context(), 100)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]gin.H, 0, len(recs))
	for _, r := range recs {
		out = append(out, gin.H{"version": r.Version, "origin": r.Origin, "author": r.Author, "comment": r.Comment,
			"created_at": r.CreatedAt, "digest": r.Digest})
	}
	c.JSON(http.StatusOK, gin.H{"versions": out})
}

// putRules is PUT /v1/rules with the YAML document as the body. A sound document becomes the version in
// force; a refused one answers 422 with every problem and changes nothing.
func (s *Server) putRules(c *gin.Context) {
	doc, err := readBody(c, rules.MaxDocumentBytes)
	if err != nil {
		s.writeError(c, err)
		return
	}
	comment := c.GetHeader("X-Rudderhook-Comment")
	if comment == "" {
		comment = c.Query("comment")
	}
	change := store.RuleSetChange{Origin: "api", Author: rulesync.AuthorAPI, Comment: strings.TrimSpace(comment)}
	set, rec, created, err := s.Rules.Save(c.Request.Context(), doc, change, s.ruleOptions())
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.Log.Info("rules saved through the API", "version", rec.Version, "new_version", created, "rules", len(set.Rules))
	c.JSON(http.StatusOK, gin.H{"version": rec.Version, "created": created, "rules": summarise(set)})
}

// ruleOptions are what a draft or a new version of the rules is checked against: the configured
// targets, and what its url:s may reach.
func (s *Server) ruleOptions() rules.Options {
	return rules.Options{Targets: s.Targets, URLs: s.URLs}
}
