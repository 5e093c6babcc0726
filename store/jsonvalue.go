package store

import (
	"database/sql/driver"
	"fmt"
)

// jsonValue is a json/jsonb column. lib/pq sends a []byte parameter as bytea, which jsonb refuses, so the
// value goes as text; an empty value is SQL NULL.
type jsonValue []byte

func (j jsonValue) Value() (driver.Value, error) {
	if len(j) == 0 {
		return nil, nil
	}
	return string(j), nil
}

func (j *jsonValue) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append(jsonValue(nil), v...) // the driver reuses its buffer
	case string:
		*j = jsonValue(v)
	default:
		return fmt.Errorf("scan json from %T", src)
	}
	return nil
}
