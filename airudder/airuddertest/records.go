package airuddertest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

// Record is one call as Airudder keeps it, for the query APIs to list: a workflow family call (Family
// "" or airudder.FamilyWorkflow), listed by taskdetail with the call completion's fields, or a PDS call
// (airudder.FamilyPDS), listed by querytaskdetail under its task. The same Record makes the callback
// that would have reported it (CallCompleted), so that a test can deliver some and leave a gap.
type Record struct {
	Family string
	CallID string
	// TaskID and TaskName are the workflow node's task, or the PDS task.
	TaskID, TaskName                                   string
	WorkflowID, WorkflowName, NodeTaskID, NodeTaskName string
	CaseID                                             string
	Callee                                             string
	Start, End                                         time.Time
	// Intention and IntentionDescription are the outcome; for a PDS call, the agent's Level1 and Level2
	// results.
	Intention, IntentionDescription string
	Status, RingType, HangupType    string
	TalkRound                       int64
}

func (r Record) pds() bool { return r.Family == airudder.FamilyPDS }

// Detail is the record as an element of a call completion's Details (the spec's field names).
func (r Record) Detail() map[string]any {
	d := map[string]any{
		"CallID": r.CallID, "CalleeNumber": r.Callee, "CaseID": r.CaseID,
		"Status": cmp.Or(r.Status, airudder.StatusFinished), "Intention": r.Intention,
		"intention_description": r.IntentionDescription, "RingType": cmp.Or(r.RingType, airudder.RingTypeNormal),
		"HangupType": cmp.Or(r.HangupType, airudder.HangupTypeByCallee), "TalkRound": r.TalkRound, "CallTimes": 1,
	}
	if !r.Start.IsZero() {
		d["CallStartTime"] = r.Start.UTC().Format(time.RFC3339)
	}
	if !r.End.IsZero() {
		d["CallEndTime"] = r.End.UTC().Format(time.RFC3339)
	}
	return d
}

// envelope is the record's call completion envelope.
func (r Record) envelope() map[string]any {
	return map[string]any{"workflow_id": r.WorkflowID, "workflow_name": r.WorkflowName, "nodetask_id": r.NodeTaskID,
		"nodetask_name": r.NodeTaskName, "TaskID": r.TaskID, "TaskName": r.TaskName}
}

// taskDetail is the record as taskdetail lists it: the Details element with the envelope's fields and
// case_id beside it (seen: "all returned fields have the same meanings as the Notification of Call
// Completion").
func (r Record) taskDetail() map[string]any {
	d := r.Detail()
	for k, v := range r.envelope() {
		d[k] = v
	}
	delete(d, "CaseID")
	d["case_id"] = r.CaseID
	return d
}

// pdsDetail is the record as querytaskdetail lists it (seen field names; times UTC, RFC 3339 with Z;
// customizeResults a list of {title, groupName, value}).
func (r Record) pdsDetail() map[string]any {
	results := []map[string]any{}
	if r.Intention != "" {
		results = append(results, map[string]any{"title": "Level1", "groupName": "Result", "value": r.Intention})
	}
	if r.IntentionDescription != "" {
		results = append(results, map[string]any{"title": "Level2", "groupName": "Result", "value": r.IntentionDescription})
	}
	d := map[string]any{
		"callid": r.CallID, "taskId": r.TaskID, "phoneNumber": r.Callee, "hangupReason": 1,
		"callResultType": "SuccUserHangup", "customizeResults": results, "nthCall": 1, "talkDuration": int(r.End.Sub(r.Start).Seconds()),
	}
	if !r.Start.IsZero() {
		d["calltime"] = r.Start.UTC().Format(time.RFC3339)
		d["answertime"] = r.Start.UTC().Format(time.RFC3339)
	}
	if !r.End.IsZero() {
		d["endtime"] = r.End.UTC().Format(time.RFC3339)
	}
	return d
}

// CallCompleted is the call completion callback that reports recs (workflow family, sharing the first
// one's envelope), signed with key.
func CallCompleted(key string, recs ...Record) []byte {
	env := recs[0].envelope()
	details := make([]any, len(recs))
	for i, r := range recs {
		details[i] = r.Detail()
	}
	env["Details"] = details
	env["Sign"] = airudder.Sign(recs[0].TaskID, key)
	b, _ := json.Marshal(env) // plain values: cannot fail
	return b
}

// Seed adds call records for the query APIs to list.
func (s *Server) Seed(recs ...Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, recs...)
}

// Correct changes the seeded record of callID, as Airudder correcting a call after its callback would;
// it reports whether there was one.
func (s *Server) Correct(callID string, edit func(*Record)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.records {
		if s.records[i].CallID == callID {
			edit(&s.records[i])
			return true
		}
	}
	return false
}

// OverCap is how many PDS queries paged (offset > 0) through a range matching more records than the
// fake's maximum per query: each also failed the test.
func (s *Server) OverCap() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overCap
}

// DemoRecords are n workflow family calls, one every three minutes before now, for a fake that `dev`
// reconciles against: a spread of outcomes over two Airudder workflows, none of which dev received as a
// callback. A call is named by its start on a fixed three-minute grid, and its outcome follows from it,
// so that a dev restarted later lists the same calls for the same times.
func DemoRecords(now time.Time, n int) []Record {
	outcomes := []struct{ intention, description, ring string }{
		{"A", "Promise To Pay", airudder.RingTypeNormal}, {"E", "Needs Follow Up", airudder.RingTypeNormal},
		{"F", "Refused", airudder.RingTypeNormal}, {"", "", airudder.RingTypeBusy}, {"", "", airudder.RingTypeSwitchOff},
	}
	const every = 3 * time.Minute
	last := now.UTC().Truncate(every)
	out := make([]Record, n)
	for i := range out {
		start := last.Add(-time.Duration(n-1-i) * every)
		slot := start.Unix() / int64(every/time.Second)
		o := outcomes[slot%int64(len(outcomes))]
		wf := 1 + slot%2
		out[i] = Record{
			CallID: "demo-" + start.Format("20060102T1504"), TaskID: fmt.Sprintf("demo-task-%d", wf), TaskName: fmt.Sprintf("Demo task %d", wf),
			WorkflowID: fmt.Sprintf("demo-wf-%d", wf), WorkflowName: fmt.Sprintf("Demo workflow %d", wf),
			NodeTaskID: fmt.Sprintf("demo-node-%d", wf), NodeTaskName: "First call",
			CaseID: fmt.Sprintf("case-%06d", slot%1000000), Callee: fmt.Sprintf("+62812%08d", slot%100000000),
			Start: start, End: start.Add(45 * time.Second), Intention: o.intention, IntentionDescription: o.description,
			RingType: o.ring, TalkRound: slot % 4,
		}
	}
	return out
}

// inRange parses the bounds of a query (airudder.TimeLayout, UTC, the zone Client gives) and says which
// times they include, to the second and both ends included.
func inRange(from, to any) (func(time.Time) bool, string) {
	f, _ := from.(string)
	t, _ := to.(string)
	a, errA := time.ParseInLocation(airudder.TimeLayout, f, time.UTC)
	b, errB := time.ParseInLocation(airudder.TimeLayout, t, time.UTC)
	if errA != nil || errB != nil {
		return nil, fmt.Sprintf("times %q and %q must be YYYY-MM-DD HH:MM:SS", f, t)
	}
	return func(x time.Time) bool {
		x = x.UTC().Truncate(time.Second)
		return !x.Before(a) && !x.After(b)
	}, ""
}

// intField reads a JSON number field as an int; ok is false when it is present and not an integer.
func intField(v any, def int) (int, bool) {
	if v == nil {
		return def, true
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(string(n))
	return i, err == nil
}

// matching are the seeded records for which keep says yes, ordered by start time then call ID.
func (s *Server) matching(keep func(Record) bool) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, r := range s.records {
		if keep(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.CallID, b.CallID)) })
	return out
}

func listAnswer(code int, field string, total int, list []map[string]any) (int, string) {
	b, _ := json.Marshal(map[string]any{"total": total, "list": list})
	if field == "body" {
		return http.StatusOK, fmt.Sprintf(`{"code":%d,"message":"successfully","body":%s}`, code, b)
	}
	return http.StatusOK, fmt.Sprintf(`{"code":%d,"status":"OK","message":"success","data":%s}`, code, b)
}

// taskDetail answers the workflow family's records of calls started in [start_time, end_time], a page
// (from 1) of page_size at a time, optionally of one workflow_id.
func (s *Server) taskDetail(req Request) (int, string) {
	in, problem := inRange(req.JSON["start_time"], req.JSON["end_time"])
	if problem != "" {
		return workflowError("%s", problem)
	}
	page, ok1 := intField(req.JSON["page"], 1)
	size, ok2 := intField(req.JSON["page_size"], 20)
	if !ok1 || !ok2 || page < 1 || size < 1 || size > 1000 {
		return workflowError("page and page_size must be integers, page ≥ 1 and 1 ≤ page_size ≤ 1000")
	}
	wf, _ := req.JSON["workflow_id"].(string)
	recs := s.matching(func(r Record) bool { return !r.pds() && in(r.Start) && (wf == "" || r.WorkflowID == wf) })
	return listAnswer(200, "data", len(recs), pageOf(recs, (page-1)*size, size, Record.taskDetail))
}

func pageOf(recs []Record, offset, limit int, shape func(Record) map[string]any) []map[string]any {
	list := []map[string]any{}
	for i := offset; i < len(recs) && i < offset+limit; i++ {
		list = append(list, shape(recs[i]))
	}
	return list
}

// pdsTask is a PDS task as the fake knows it: from its records, started with its first call.
type pdsTask struct {
	id, name string
	start    time.Time
}

func (s *Server) pdsTasks() []pdsTask {
	byID := map[string]*pdsTask{}
	var order []string
	for _, r := range s.matching(Record.pds) {
		t := byID[r.TaskID]
		if t == nil {
			t = &pdsTask{id: r.TaskID, name: r.TaskName, start: r.Start}
			byID[r.TaskID] = t
			order = append(order, r.TaskID)
		}
		if r.Start.Before(t.start) {
			t.start = r.Start
		}
	}
	out := make([]pdsTask, len(order))
	for i, id := range order {
		out[i] = *byID[id]
	}
	return out
}

// queryTaskList answers the PDS tasks that started in [minstarttime, maxstarttime].
func (s *Server) queryTaskList(req Request) (int, string) {
	in, problem := inRange(req.JSON["minstarttime"], req.JSON["maxstarttime"])
	if problem != "" {
		return pdsError(10501, problem)
	}
	limit, ok1 := intField(req.JSON["limit"], 500)
	offset, ok2 := intField(req.JSON["offset"], 0)
	if !ok1 || !ok2 || limit < 1 || offset < 0 {
		return pdsError(10501, "limit and offset must be integers")
	}
	list := []map[string]any{}
	n := 0
	for _, t := range s.pdsTasks() {
		if !in(t.start) {
			continue
		}
		if n >= offset && len(list) < limit {
			list = append(list, map[string]any{"taskId": t.id, "name": t.name, "groupName": "Collectors", "state": "Running",
				"actualStartTime": t.start.UTC().Format(airudder.TimeLayout)})
		}
		n++
	}
	b, _ := json.Marshal(map[string]any{"list": list})
	return http.StatusOK, `{"code":0,"message":"successfully","body":` + string(b) + `}`
}

// queryTaskDetail answers a page of one PDS task's records, ordered by call time, of calls started in
// [minstarttime, maxstarttime] when given. A page beyond the first of a range matching more records
// than the fake's maximum per query fails the test: a client must narrow the range instead.
func (s *Server) queryTaskDetail(req Request) (int, string) {
	task, _ := req.JSON["taskId"].(string)
	if task == "" {
		return pdsError(10502, "taskId is null")
	}
	if order, _ := req.JSON["orderBy"].(string); order != "calltime" {
		return pdsError(10501, "orderBy must be calltime")
	}
	in := func(time.Time) bool { return true }
	if req.JSON["minstarttime"] != nil || req.JSON["maxstarttime"] != nil {
		var problem string
		if in, problem = inRange(req.JSON["minstarttime"], req.JSON["maxstarttime"]); problem != "" {
			return pdsError(10501, problem)
		}
	}
	limit, ok1 := intField(req.JSON["limit"], 1<<30)
	offset, ok2 := intField(req.JSON["offset"], 0)
	if !ok1 || !ok2 || limit < 1 || offset < 0 {
		return pdsError(10501, "limit and offset must be integers")
	}
	recs := s.matching(func(r Record) bool { return r.pds() && r.TaskID == task && in(r.Start) })
	if offset > 0 && len(recs) > s.maxPerQuery {
		s.mu.Lock()
		s.overCap++
		s.mu.Unlock()
		s.t.Errorf("fake Airudder: querytaskdetail paged through %d records of task %s; at most %d per query", len(recs), task, s.maxPerQuery)
	}
	return listAnswer(0, "body", len(recs), pageOf(recs, offset, limit, Record.pdsDetail))
}

// detailInstances answers the workflows the callee (or case) is in, within [start_time, end_time]: those
// uploaddetails added it to and createinstance created for it (by when they were made), and those whose
// seeded calls went to it (by when they started).
func (s *Server) detailInstances(req Request) (int, string) {
	in, problem := inRange(req.JSON["start_time"], req.JSON["end_time"])
	if problem != "" {
		return workflowError("%s", problem)
	}
	callee, _ := req.JSON["callee"].(string)
	caseID, _ := req.JSON["case_id"].(string)
	if callee == "" && caseID == "" {
		return workflowError("case_id or callee is required")
	}
	type found struct {
		wf, name, caseID, callee string
		at                       time.Time
	}
	var hits []found
	same := func(a string) bool {
		return callee != "" && airudder.NormalizeNumber(a) == airudder.NormalizeNumber(callee)
	}
	s.mu.Lock()
	for n, u := range s.uploads {
		for _, c := range u.Callees {
			if at := s.uploadsMade[n]; same(c) && in(at) {
				hits = append(hits, found{wf: u.WorkflowID, callee: c, at: at})
			}
		}
	}
	for n, i := range s.instances {
		for _, c := range i.Callees {
			if at := s.instancesMade[n]; same(c) && in(at) {
				hits = append(hits, found{wf: i.WorkflowID, name: i.Name, callee: c, at: at})
			}
		}
	}
	s.mu.Unlock()
	for _, r := range s.matching(func(r Record) bool { return !r.pds() && in(r.Start) }) {
		if same(r.Callee) || (caseID != "" && r.CaseID == caseID) {
			hits = append(hits, found{wf: r.WorkflowID, name: r.WorkflowName, caseID: r.CaseID, callee: r.Callee, at: r.Start})
		}
	}
	list := []map[string]any{}
	seen := map[string]bool{}
	for _, h := range hits {
		if seen[h.wf] {
			continue
		}
		seen[h.wf] = true
		list = append(list, map[string]any{"workflow_id": h.wf, "workflow_name": h.name, "case_id": h.caseID, "callee": h.callee,
			"create_time": h.at.UTC().Format(airudder.TimeLayout)})
	}
	b, _ := json.Marshal(map[string]any{"list": list})
	return http.StatusOK, `{"code":200,"status":"OK","message":"success","data":` + string(b) + `}`
}

// Throttled answers as Airudder's PDS family does when queried too often: code 10705 at HTTP 200,
// without effect.
func Throttled() Fault {
	return Answer(http.StatusOK, `{"code":10705,"message":"The number of queries exceeds the number limit"}`)
}

// Every applies f to every nth request (the nth, the 2nth, …) and lets the others through.
func Every(n int, f Fault) func(int) Fault {
	return func(i int) Fault {
		if i%n == 0 {
			return f
		}
		return Fault{}
	}
}
