package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// EventJSON is a stored event as the admin API shows it: what it is about, its typed body where the kind
// has one, and the body as received.
type EventJSON struct {
	ID                 int64      `json:"id"`
	Source             string     `json:"source"`
	Kind               string     `json:"kind"`
	On                 string     `json:"on"`
	Key                string     `json:"key"`
	TemporalWorkflowID string     `json:"temporal_workflow_id"`
	TemporalURL        string     `json:"temporal_url,omitempty"`
	Summary            string     `json:"summary"`
	Subject            string     `json:"subject,omitempty"`
	Time               *time.Time `json:"time,omitempty"`
	TaskID             string     `json:"task_id,omitempty"`
	CallID             string     `json:"call_id,omitempty"`
	CalleeNumber       string     `json:"callee_number,omitempty"`
	CaseID             string     `json:"case_id,omitempty"`
	ReceivedAt         time.Time  `json:"received_at"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	// Revision is the revision shown: the latest received of the event's distinct deliveries.
	Revision      int                     `json:"revision"`
	ParseNotes    []airudder.ParseNote    `json:"parse_notes"`
	ListCompleted *airudder.ListCompleted `json:"list_completed,omitempty"`
	StatusChanged *airudder.StatusChanged `json:"status_changed,omitempty"`
	QAResult      *airudder.QAResult      `json:"qa_result,omitempty"`
	PDS           *airudder.PDSEvent      `json:"pds,omitempty"`
	// ChatbotSessionEnded shows its X-AIRudder-Sign header as it came (x_airudder_sign; not verified).
	ChatbotSessionEnded *airudder.ChatbotSessionEnded `json:"chatbot_session_ended,omitempty"`
	Raw                 json.RawMessage               `json:"raw"`
}

// EventWithRevisions is a single event with everything planned for it and every revision received.
type EventWithRevisions struct {
	EventJSON
	SubjectHistory
}

// getEvent is GET /v1/events/{id}.
func (s *Server) getEvent(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		s.writeError(c, newError(http.StatusNotFound, "not_found", "no event with ID "+strconv.Quote(c.Param("id"))))
		return
	}
	rec, err := s.Store.GetEvent(c.Request.Context(), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	h, err := s.subjectHistory(c, rec.SubjectID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, EventWithRevisions{EventJSON: s.eventJSON(rec), SubjectHistory: h})
}

// listEvents is GET /v1/events?kind=&on=&source=&task_id=&call_id=&callee_number=&case_id=&state=
// &received_after=&received_before=&limit=&cursor=, newest first, paged as /v1/calls.
func (s *Server) listEvents(c *gin.Context) {
	var f store.EventFilter
	if err := queryFilter(c, map[string]*string{"source": &f.Source, "kind": &f.Kind, "on": &f.On, "task_id": &f.TaskID,
		"call_id": &f.CallID, "case_id": &f.CaseID, "state": &f.State}, &f.CalleeNumber, &f.ReceivedAfter, &f.ReceivedBefore); err != nil {
		s.writeError(c, err)
		return
	}
	writeList(s, c, "events", func(limit int, before int64) ([]store.EventRecord, int64, error) {
		f.Limit, f.Before = limit, before
		return s.Store.ListEvents(c.Request.Context(), f)
	}, s.eventJSON)
}

func (s *Server) eventJSON(rec *store.EventRecord) EventJSON {
	out := EventJSON{
		ID: rec.ID, Source: rec.Source, Kind: rec.Kind, On: rec.On, Key: rec.Key,
		TemporalWorkflowID: rec.WorkflowID, TemporalURL: workflows.UILink(s.UIBase, s.Namespace, rec.WorkflowID),
		Summary: rec.Summary, Subject: rec.Subject, Time: rec.Time, TaskID: rec.TaskID, CallID: rec.CallID,
		CalleeNumber: rec.CalleeNumber, CaseID: rec.CaseID, ReceivedAt: rec.ReceivedAt, CreatedAt: rec.CreatedAt,
		UpdatedAt: rec.UpdatedAt, Revision: rec.Revision, ParseNotes: rec.Notes, ListCompleted: rec.ListCompleted,
		StatusChanged: rec.StatusChanged, QAResult: rec.QAResult, PDS: rec.PDS, ChatbotSessionEnded: rec.ChatbotSessionEnded, Raw: rec.Raw,
	}
	if out.ParseNotes == nil {
		out.ParseNotes = []airudder.ParseNote{}
	}
	return out
}
