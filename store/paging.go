package store

import (
	"fmt"
	"strings"
	"time"
)

// where builds the conditions of a listing query with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends a condition whose %d is the number of v's parameter.
func (w *where) add(cond string, v any) {
	w.args = append(w.args, v)
	w.conds = append(w.conds, fmt.Sprintf(cond, len(w.args)))
}

// equal filters col by v, unless v is empty.
func (w *where) equal(col, v string) {
	if v != "" {
		w.add(col+" = $%d", v)
	}
}

// page is the query of one page of what selectSQL reads (a SELECT … FROM … without WHERE), newest first
// by key: rows with key below the cursor before (0: from the newest), one more than limit so the caller
// learns whether a next page exists.
func (w *where) page(selectSQL, key string, before int64, limit int) (string, []any) {
	if before > 0 {
		w.add(key+" < $%d", before)
	}
	q := selectSQL
	if len(w.conds) > 0 {
		q += " WHERE " + strings.Join(w.conds, " AND ")
	}
	w.args = append(w.args, limit+1)
	return q + fmt.Sprintf(" ORDER BY %s DESC LIMIT $%d", key, len(w.args)), w.args
}

// ascending is the query of up to limit rows of what selectSQL reads, oldest first by key: rows with key
// above after.
func (w *where) ascending(selectSQL, key string, after int64, limit int) (string, []any) {
	w.add(key+" > $%d", after)
	w.args = append(w.args, limit)
	return selectSQL + " WHERE " + strings.Join(w.conds, " AND ") + fmt.Sprintf(" ORDER BY %s LIMIT $%d", key, len(w.args)), w.args
}

// count is the query that counts the rows of from (a table or a join) that the conditions keep.
func (w *where) count(from string) (string, []any) {
	q := "SELECT count(*) FROM " + from
	if len(w.conds) > 0 {
		q += " WHERE " + strings.Join(w.conds, " AND ")
	}
	return q, w.args
}

// trimPage cuts the extra row off a page and returns the cursor of the next one (0: none).
func trimPage[T any](rows []T, limit int, key func(T) int64) ([]T, int64) {
	if len(rows) <= limit {
		return rows, 0
	}
	rows = rows[:limit]
	return rows, key(rows[len(rows)-1])
}

// receivedBetween keeps rows whose col (when they were received) is at or after after and before
// before; a zero time does not bound.
func (w *where) receivedBetween(col string, after, before time.Time) {
	if !after.IsZero() {
		w.add(col+" >= $%d", after)
	}
	if !before.IsZero() {
		w.add(col+" < $%d", before)
	}
}
