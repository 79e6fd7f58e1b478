"""The report summary without a join per call, and a version of what it reads.

- `ledger_lines.station_id`: the station of the confirmed service month a line was settled for, written by the
  batch with the line (awards have none). The summary groups by it instead of joining every line to
  `service_months` at each call; it is also the better meaning: money paid for a month stays with the station
  it was paid for when the month's station is amended later. Lines written before are backfilled from the
  service months as they are now (the best there is). The backfill is no business write: the audit trail's
  row-by-row update capture is off for it (it would write and seal one trail row per line, some 1.2 million
  at 100,000 workers), and the trail's digests of inserted lines do not cover the column.
- `ledger_version`: one row, bumped by a statement-level trigger on every write (insert, update, delete,
  truncate) to what the summary reads: the ledger lines, and the per-worker transfers, repayments and
  write-offs the receivable adds up. A summary computed in one snapshot with the version read in it is valid
  for exactly that version (services/subsidy/reports/cache.py). The row is updated in the writer's
  transaction, so it is locked until that commits: every one of these writers already holds the receivables
  lock (services/subsidy/ledger/service.py), except a write-off's rejection, which takes no other lock after.

Revision ID: 0010_summary_figures
Revises: 0009_batch_write_speed
"""

from alembic import op

revision = "0010_summary_figures"
down_revision = "0009_batch_write_speed"
branch_labels = None
depends_on = None

VERSIONED = ("ledger_lines", "disbursement_workers", "receivable_repayments", "receivable_write_offs")


def upgrade() -> None:
    op.execute("ALTER TABLE ledger_lines ADD COLUMN station_id uuid")
    op.execute("ALTER TABLE ledger_lines DISABLE TRIGGER audit_capture_update")
    op.execute("UPDATE ledger_lines l SET station_id = s.station_id FROM service_months s "
               "WHERE s.worker_id = l.worker_id AND s.month = l.month AND l.kind <> 'award'")
    op.execute("ALTER TABLE ledger_lines ENABLE TRIGGER audit_capture_update")
    op.execute("CREATE TABLE ledger_version (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
               "version bigint NOT NULL)")
    op.execute("INSERT INTO ledger_version (one, version) VALUES (true, 1)")
    op.execute("CREATE FUNCTION ledger_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
               "BEGIN UPDATE ledger_version SET version = version + 1; RETURN NULL; END $$")
    for table in VERSIONED:
        op.execute(f"CREATE TRIGGER ledger_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION ledger_version_bump()")


def downgrade() -> None:
    for table in VERSIONED:
        op.execute(f"DROP TRIGGER ledger_version_bump ON {table}")
    op.execute("DROP FUNCTION ledger_version_bump()")
    op.execute("DROP TABLE ledger_version")
    op.execute("ALTER TABLE ledger_lines DROP COLUMN station_id")
