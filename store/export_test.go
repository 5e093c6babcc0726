package store

import (
	"context"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// MigrateTo migrates db up or down to version, as the embedded migrations define it.
func MigrateTo(ctx context.Context, db *sqlx.DB, version int64) error {
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB, migrationsFS())
	if err != nil {
		return err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	if version < current {
		_, err = p.DownTo(ctx, version)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	return err
}
