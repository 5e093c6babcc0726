package store

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// valueColumns are the text fields of a call (by the name rules give them) whose stored values are worth
// offering when someone writes a condition, and the column that holds each.
var valueColumns = map[string]string{
	"source":                "source",
	"status":                "status",
	"intention":             "intention",
	"intention_description": "intention_description",
	"ring_type":             "ring_type",
	"hangup_type":           "hangup_type",
	"callee_gender":         "callee_gender",
	"currency":              "currency_unit",
	"platform_name":         "platform_name",
	"workflow_name":         "workflow_name",
	"task_name":             "task_name",
	"nodetask_name":         "nodetask_name",
	"robot_id":              "robot_id",
	"asr_ptp":               "asr_ptp",
	"ask_whatsapp":          "ask_whatsapp",
}

// valueSample is how many of the newest calls CallValues reads: enough to see every value in use, and a
// bounded cost however many calls are stored.
const valueSample = 20000

// callValuesSQL counts the values of several columns in one pass over the newest calls received since
// $1: %s is a VALUES list of (field, column) built from valueColumns, never from a caller.
const callValuesSQL = `SELECT f.name, f.value, count(*) AS n
FROM (SELECT t.*, s.source, s.received_at FROM calls t JOIN subjects s ON s.id = t.subject_id
      ORDER BY t.seq DESC LIMIT %d) c,
  LATERAL (VALUES %s) AS f(name, value)
WHERE c.received_at >= $1 AND f.value <> ''
GROUP BY f.name, f.value`

// CallValues lists, for each field of valueColumns asked for, the values most often seen in the calls
// received since t (at most limit each, most frequent first). Fields that have no such column are left
// out.
func (s *Store) CallValues(ctx context.Context, fields []string, since time.Time, limit int) (map[string][]string, error) {
	var pairs []string
	out := map[string][]string{}
	for _, f := range fields {
		if col, ok := valueColumns[f]; ok {
			pairs = append(pairs, fmt.Sprintf("('%s', c.%s)", f, col))
			out[f] = []string{}
		}
	}
	if len(pairs) == 0 {
		return out, nil
	}
	var rows []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
		N     int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, fmt.Sprintf(callValuesSQL, valueSample, strings.Join(pairs, ", ")), since); err != nil {
		return nil, fmt.Errorf("list the values of calls' fields: %w", err)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].N != rows[j].N {
			return rows[i].N > rows[j].N
		}
		return rows[i].Value < rows[j].Value
	})
	for _, r := range rows {
		if len(out[r.Name]) < limit && !slices.Contains(out[r.Name], r.Value) {
			out[r.Name] = append(out[r.Name], r.Value)
		}
	}
	return out, nil
}
