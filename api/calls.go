package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// CallJSON is a stored call as the admin API shows it: every field of the callback, typed, under Airudder's
// names ("task" is the envelope, "call" the element of Details), plus where it is handled.
type CallJSON struct {
	Source             string        `json:"source"`
	Key                string        `json:"key"`
	TemporalWorkflowID string        `json:"temporal_workflow_id"`
	TemporalURL        string        `json:"temporal_url,omitempty"`
	ReceivedAt         time.Time     `json:"received_at"`
	CreatedAt          time.Time     `json:"created_at"`
	UpdatedAt          time.Time     `json:"updated_at"`
	Task               airudder.Task `json:"task"`
	Call               airudder.Call `json:"call"`
	Extra              *extraFields  `json:"extra,omitempty"`
	// Revision is the revision shown: the latest received of the call's distinct deliveries.
	Revision int `json:"revision"`
	// ParseNotes are the fields kept as sent (in the raw JSON) but not read into their typed form.
	ParseNotes []airudder.ParseNote `json:"parse_notes"`
	// CalleeNumberHMAC, when RUDDERHOOK_PII_KEY is set, is what the Temporal UI's CalleeNumber search
	// attribute holds for this call instead of the number: what to search its workflows by.
	CalleeNumberHMAC string `json:"callee_number_hmac,omitempty"`
}

// CallWithFollowUps is a single call with everything planned for it and every revision received.
type CallWithFollowUps struct {
	CallJSON
	SubjectHistory
	// Recording says where the call's recording is archived, for a call that has one (a link, or an
	// archive of it).
	Recording *RecordingJSON `json:"recording,omitempty"`
}

// RecordingJSON is a call's recording as archived (archive_recording): where it is in the bucket, its
// size and checksum. The link it came from is the call's own (call.recLink), not repeated here.
type RecordingJSON struct {
	Archived bool `json:"archived"`
	*store.Recording
}

// SubjectHistory is what became of a subject, a call or an event: everything planned for it and every
// revision received.
type SubjectHistory struct {
	FollowUps []FollowUpJSON `json:"follow_ups"`
	Revisions RevisionsJSON  `json:"revisions"`
}

// RevisionsJSON lists the distinct deliveries of a subject, oldest first.
type RevisionsJSON struct {
	Count int              `json:"count"`
	List  []store.Revision `json:"list"`
}

// extraFields are the fields Airudder sent that the spec does not name, kept as they came.
type extraFields struct {
	Task map[string]json.RawMessage `json:"task,omitempty"`
	Call map[string]json.RawMessage `json:"call,omitempty"`
}

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// getCall is GET /v1/calls/{call_id}[?source=…]. A key that holds a slash ("{TaskID}/{id}") may come
// escaped (%2F) or not (the second route).
func (s *Server) getCall(c *gin.Context) {
	key := c.Param("call_id")
	if id := c.Param("id"); id != "" {
		key += "/" + id
	}
	if source := c.Query("source"); source != "" {
		rec, err := s.Store.GetCall(c.Request.Context(), source, key)
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.writeCallWithFollowUps(c, rec)
		return
	}
	recs, err := s.Store.FindCalls(c.Request.Context(), key)
	switch {
	case err != nil:
		s.writeError(c, err)
	case len(recs) == 0:
		s.writeError(c, newError(http.StatusNotFound, "not_found", "no call with ID "+strconv.Quote(key)))
	case len(recs) > 1:
		sources := make([]string, len(recs))
		for i, r := range recs {
			sources[i] = r.Source
		}
		s.writeError(c, newError(http.StatusConflict, "ambiguous_call_id",
			"sources "+strings.Join(sources, ", ")+" each have a call with this ID; add ?source="))
	default:
		s.writeCallWithFollowUps(c, &recs[0])
	}
}

// writeCallWithFollowUps answers with one call and everything that was planned for it.
func (s *Server) writeCallWithFollowUps(c *gin.Context, rec *store.CallRecord) {
	h, err := s.subjectHistory(c, rec.SubjectID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := CallWithFollowUps{CallJSON: s.callJSON(rec), SubjectHistory: h}
	switch archived, err := s.Store.RecordingOf(c.Request.Context(), rec.SubjectID); {
	case err == nil:
		out.Recording = &RecordingJSON{Archived: true, Recording: archived}
	case !errors.Is(err, store.ErrNotFound):
		s.writeError(c, err)
		return
	case rec.Call.RecordingURL != "":
		out.Recording = &RecordingJSON{}
	}
	c.JSON(http.StatusOK, out)
}

// subjectHistory reads the follow-ups and revisions of a subject, of whatever kind.
func (s *Server) subjectHistory(c *gin.Context, subjectID int64) (SubjectHistory, error) {
	fus, err := s.Store.FollowUpsOf(c.Request.Context(), subjectID)
	if err != nil {
		return SubjectHistory{}, err
	}
	revs, err := s.Store.Revisions(c.Request.Context(), subjectID)
	if err != nil {
		return SubjectHistory{}, err
	}
	if revs == nil {
		revs = []store.Revision{}
	}
	h := SubjectHistory{FollowUps: make([]FollowUpJSON, 0, len(fus)), Revisions: RevisionsJSON{Count: len(revs), List: revs}}
	for i := range fus {
		h.FollowUps = append(h.FollowUps, s.followUpJSON(&fus[i]))
	}
	return h, nil
}

// queryCallFilter sets the filters given as query parameters (case_id, callee_number, task_id,
// intention, source, received_after, received_before) on f, leaving the others as they are.
func queryCallFilter(c *gin.Context, f *store.CallFilter) error {
	return queryFilter(c, map[string]*string{"source": &f.Source, "case_id": &f.CaseID, "task_id": &f.TaskID, "intention": &f.Intention},
		&f.CalleeNumber, &f.ReceivedAfter, &f.ReceivedBefore)
}

// queryFilter reads a list's filters from the query string, each only when given (so that they can
// override a filter read from a body): text parameters as they are, callee_number as a phone number, and
// received_after and received_before as RFC 3339 times.
func queryFilter(c *gin.Context, text map[string]*string, callee *string, after, before *time.Time) error {
	for name, dst := range text {
		if v := c.Query(name); v != "" {
			*dst = v
		}
	}
	if v := phoneParam(c, "callee_number"); v != "" {
		*callee = v
	}
	return timeParams(c, map[string]*time.Time{"received_after": after, "received_before": before})
}

// timeParams reads the query parameters named as RFC 3339 times, each only when given.
func timeParams(c *gin.Context, params map[string]*time.Time) error {
	for name, dst := range params {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return newError(http.StatusBadRequest, "invalid_parameter", name+" must be an RFC 3339 time, e.g. 2024-03-11T00:00:00Z")
			}
			*dst = t
		}
	}
	return nil
}

// listCalls is GET /v1/calls?case_id=&callee_number=&task_id=&intention=&source=&limit=&cursor=, newest
// first. The response's next_cursor, when present, fetches the next page.
func (s *Server) listCalls(c *gin.Context) {
	var f store.CallFilter
	if err := queryCallFilter(c, &f); err != nil {
		s.writeError(c, err)
		return
	}
	writeList(s, c, "calls", func(limit int, before int64) ([]store.CallRecord, int64, error) {
		f.Limit, f.Before = limit, before
		return s.Store.ListCalls(c.Request.Context(), f)
	}, s.callJSON)
}

func (s *Server) callJSON(rec *store.CallRecord) CallJSON {
	call := rec.Call
	// Lists are lists, even when Airudder sent none.
	if call.AsrResult == nil {
		call.AsrResult = []airudder.AsrEntry{}
	}
	if call.RedialCalls == nil {
		call.RedialCalls = []airudder.Redial{}
	}
	out := CallJSON{
		Source:             rec.Source,
		Key:                rec.Key,
		TemporalWorkflowID: rec.WorkflowID,
		TemporalURL:        workflows.UILink(s.UIBase, s.Namespace, rec.WorkflowID),
		ReceivedAt:         rec.ReceivedAt,
		CreatedAt:          rec.CreatedAt,
		UpdatedAt:          rec.UpdatedAt,
		Task:               rec.Task,
		Call:               call,
		Revision:           rec.Revision,
		ParseNotes:         rec.ParseNotes,
		CalleeNumberHMAC:   s.Numbers.CalleeSearch(rec.Call.CalleeNumber),
	}
	if out.ParseNotes == nil {
		out.ParseNotes = []airudder.ParseNote{}
	}
	extra := extraFields{Task: unknownFields(rec.RawTask, knownTaskFields), Call: unknownFields(rec.RawCall, knownCallFields)}
	if len(extra.Task) > 0 || len(extra.Call) > 0 {
		out.Extra = &extra
	}
	return out
}

// The field names the spec gives, as Airudder spells them; anything else a callback held is "extra".
var (
	knownTaskFields = jsonNames(airudder.Task{}, "Sign", "Details")
	knownCallFields = jsonNames(airudder.Call{})
)

func jsonNames(v any, more ...string) map[string]bool {
	var fields map[string]json.RawMessage
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &fields)
	names := map[string]bool{}
	for n := range fields {
		names[n] = true
	}
	for _, n := range more {
		names[n] = true
	}
	return names
}

// unknownFields returns the members of raw whose names are not known.
func unknownFields(raw json.RawMessage, known map[string]bool) map[string]json.RawMessage {
	var all map[string]json.RawMessage
	if json.Unmarshal(raw, &all) != nil {
		return nil
	}
	for n := range all {
		if known[n] {
			delete(all, n)
		}
	}
	return all
}

// phoneParam reads a phone number from the query. A "+" left unescaped in a query string arrives as a
// space; a phone number never starts with one, so "?callee_number=+62…" finds what the user meant.
func phoneParam(c *gin.Context, name string) string {
	v := c.Query(name)
	if trimmed := strings.TrimLeft(v, " "); trimmed != v {
		return "+" + trimmed
	}
	return v
}

// writePage answers a list: its items under name, and next_cursor when there is a next page.
// writeList answers a list request: it reads the page's size and cursor, lists the records and writes
// them, each turned into its JSON, under name with the next page's cursor.
func writeList[R, J any](s *Server, c *gin.Context, name string, list func(limit int, before int64) ([]R, int64, error), toJSON func(*R) J) {
	limit, before, err := paging(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	recs, next, err := list(limit, before)
	if err != nil {
		s.writeError(c, err)
		return
	}
	items := make([]J, 0, len(recs))
	for i := range recs {
		items = append(items, toJSON(&recs[i]))
	}
	writePage(c, name, items, next)
}

func writePage[T any](c *gin.Context, name string, items []T, next int64) {
	out := gin.H{name: items}
	if next > 0 {
		out["next_cursor"] = encodeCursor(next)
	}
	c.JSON(http.StatusOK, out)
}

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

func decodeCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(b), 10, 64)
}
