-- The compose stack's PostgreSQL: one database for rudderhook beside Temporal's own.
CREATE DATABASE rudderhook;
