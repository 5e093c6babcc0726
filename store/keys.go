package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
)

// KeyNumberIDs is the purpose of the installation's key that hashes phone numbers in workflow IDs
// (airudder.NumberKeys.ID).
const KeyNumberIDs = "number-ids"

// installationKeySQL makes the key of a purpose if there is none yet and returns the one kept. When two
// processes make it at once, one insert wins; the other finds nothing in its statement's snapshot (taken
// before the winner committed) and reads again.
const installationKeySQL = `WITH made AS (
  INSERT INTO installation_keys (purpose, key) VALUES ($1, $2) ON CONFLICT (purpose) DO NOTHING RETURNING key)
SELECT key FROM made UNION ALL SELECT key FROM installation_keys WHERE purpose = $1 LIMIT 1`

// InstallationKey is this installation's key for purpose: 32 random bytes made by the first process that
// asks, then the same for every process and replica that shares the database, for as long as it lives.
func (s *Store) InstallationKey(ctx context.Context, purpose string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("make the %s key: %w", purpose, err)
	}
	for range 2 {
		var key []byte
		err := s.db.GetContext(ctx, &key, installationKeySQL, purpose, fresh)
		if errors.Is(err, sql.ErrNoRows) {
			continue // made by another process since this statement began: it is there now
		}
		if err != nil {
			return nil, fmt.Errorf("read the %s key: %w", purpose, err)
		}
		return key, nil
	}
	return nil, fmt.Errorf("read the %s key: none was kept", purpose)
}
