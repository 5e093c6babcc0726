package store

import (
	"context"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// HoldCommitters occupies every committer of b, so that the next batch fills until it is full or its
// wait ends; release frees them.
func (b *InboxBatcher) HoldCommitters() (release func()) {
	for range b.opts.Committers {
		b.slots <- struct{}{}
	}
	return func() {
		for range b.opts.Committers {
			<-b.slots
		}
	}
}

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
