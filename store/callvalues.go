package store

import (
	"context"
	"fmt"
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

// callValuesSQL lists the most frequent non-empty values of one column among the calls received since $1.
// The column comes from valueColumns, never from a caller.
const callValuesSQL = `SELECT %[1]s FROM calls WHERE received_at >= $1 AND %[1]s <> ''
GROUP BY %[1]s ORDER BY count(*) DESC, %[1]s LIMIT $2`

// CallValues lists, for each field of valueColumns asked for, the values most often seen in the calls
// received since t (at most limit each, most frequent first). Fields that have no such column are left
// out.
func (s *Store) CallValues(ctx context.Context, fields []string, since time.Time, limit int) (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range fields {
		col, ok := valueColumns[f]
		if !ok {
			continue
		}
		var values []string
		if err := s.db.SelectContext(ctx, &values, fmt.Sprintf(callValuesSQL, col), since, limit); err != nil {
			return nil, fmt.Errorf("list values of %s: %w", f, err)
		}
		out[f] = values
	}
	return out, nil
}
