package airudder

import (
	"fmt"
	"strings"
)

// QAResult is the result of a recording quality check (Airudder's QA family): `{TaskID, Sign,
// QADetail[]}`, signed as a call completion is. Field names are Airudder's.
type QAResult struct {
	TaskID  string     `json:"TaskID"`
	Details []QADetail `json:"QADetail"`
}

// QADetail is the check of one recording.
type QADetail struct {
	RecordingID string         `json:"RecordingID"`
	Length      *float64       `json:"Length"` // seconds
	Words       *int64         `json:"Words"`
	AsrResults  []QASentence   `json:"AsrResults"`
	CheckPoints []QACheckPoint `json:"CheckPoint"`
	Scores      []QAScore      `json:"Scores"`
}

// QASentence is one line of the recording's transcript.
type QASentence struct {
	Channel  string   `json:"Channel"`
	Begin    *float64 `json:"Begin"` // seconds from the start
	Sentence string   `json:"Sentence"`
}

// QACheckPoint is a group of checks ("SOP", "Negative") and whether each was hit.
type QACheckPoint struct {
	Type    string          `json:"CheckPointType"`
	Results []QACheckResult `json:"CheckPointResultsDetail"`
}

// QACheckResult is one check.
type QACheckResult struct {
	Name string `json:"Name"`
	Hit  *bool  `json:"Hit"`
}

// QAScore is a group's score on one channel.
type QAScore struct {
	CheckPointType string   `json:"CheckPointType"`
	Channel        string   `json:"Channel"`
	Score          *float64 `json:"Score"`
}

// readQAResult reads a QA result. Its envelope: a TaskID (what the Sign covers) and a QADetail array of at
// least one object, as Details is for a call completion.
//
// Key: the TaskID. A QA task's results come in one callback; a redelivery has the same TaskID, and a
// corrected one becomes a revision. (Should Airudder ever split one task's results over several
// callbacks, they would read as revisions of one event: the store keeps every revision.)
func readQAResult(k Kind, d *Document, opts ParseOptions) (*Event, error) {
	ev, r, err := newEvent(k, k.On[0], d, &opts)
	if err != nil {
		return nil, err
	}
	var errs []FieldError
	qa := &QAResult{TaskID: required(r, "TaskID", &errs)}
	for i, raw := range requiredArray(d.fields, "QADetail", "result", &errs) {
		if kindOf(raw) != "object" {
			errs = append(errs, FieldError{Field: fmt.Sprintf("QADetail[%d]", i), Message: "must be an object, got " + kindOf(raw)})
		}
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	r.each("QADetail", func(e reader) { qa.Details = append(qa.Details, readQADetail(e)) })
	ev.QAResult = qa
	ev.TaskID = qa.TaskID
	ev.Key = qa.TaskID
	ev.Summary = fmt.Sprintf("QA result of task %s: %s", qa.TaskID, plural(len(qa.Details), "recording"))
	if hits := qa.hits(); hits != "" {
		ev.Summary += ", hits " + hits
	}
	return ev, nil
}

func readQADetail(r reader) QADetail {
	q := QADetail{RecordingID: r.str("RecordingID"), Length: r.float("Length"), Words: r.int("Words")}
	r.each("AsrResults", func(e reader) {
		q.AsrResults = append(q.AsrResults, QASentence{Channel: e.str("Channel"), Begin: e.float("Begin"), Sentence: e.str("Sentence")})
	})
	r.each("CheckPoint", func(e reader) {
		cp := QACheckPoint{Type: e.str("CheckPointType")}
		e.each("CheckPointResultsDetail", func(c reader) {
			cp.Results = append(cp.Results, QACheckResult{Name: c.str("Name"), Hit: c.bool("Hit")})
		})
		q.CheckPoints = append(q.CheckPoints, cp)
	})
	r.each("Scores", func(e reader) {
		q.Scores = append(q.Scores, QAScore{CheckPointType: e.str("CheckPointType"), Channel: e.str("Channel"), Score: e.float("Score")})
	})
	return q
}

// hits counts, per check-point type and over every recording, the checks hit of those made: "SOP 1/1,
// Negative 0/1".
func (qa *QAResult) hits() string {
	type count struct{ hit, all int }
	var order []string
	counts := map[string]*count{}
	for _, d := range qa.Details {
		for _, cp := range d.CheckPoints {
			c := counts[cp.Type]
			if c == nil {
				c = &count{}
				counts[cp.Type] = c
				order = append(order, cp.Type)
			}
			for _, res := range cp.Results {
				c.all++
				if res.Hit != nil && *res.Hit {
					c.hit++
				}
			}
		}
	}
	parts := make([]string, len(order))
	for i, t := range order {
		parts[i] = fmt.Sprintf("%s %d/%d", orDash(t), counts[t].hit, counts[t].all)
	}
	return strings.Join(parts, ", ")
}
