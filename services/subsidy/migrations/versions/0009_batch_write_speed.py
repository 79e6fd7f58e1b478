"""What a batch writes costs less: references checked once per statement, settled states updated in place.

- A batch COPYs some 250,000 ledger lines and 100,000 per-worker rows. Their foreign keys (ledger_lines to
  policies and disbursements, disbursement_workers to disbursements) were checked by PostgreSQL one row at a
  time, a query per row and key: some 450,000 look-ups of the same two or three parent rows, a third of the
  COPY's time. The same references are now checked once per statement, over the statement's rows (a
  transition table): every distinct value must name an existing parent row, which is locked FOR KEY SHARE as
  the foreign key did, else the statement fails with `foreign_key_violation` (23503) naming the value. A
  parent row (a policy version, a batch) cannot be deleted or have its key changed while a line or
  per-worker row refers to it (the same 23503). The ORM models keep their ForeignKey declarations (they
  order a flush's inserts); only the database's enforcement changed.
- settled_workers and fact_changes: every batch updates a row per worker (the state it settled at, the
  change it consumed). Their pages are now half empty (fillfactor 50) so the updates stay on the page
  (heap-only tuples: no new index entry per update); the tables are rewritten once to make room.

Revision ID: 0009_batch_write_speed
Revises: 0008_audit_bulk_ledger
"""

from alembic import op

revision = "0009_batch_write_speed"
down_revision = "0008_audit_bulk_ledger"
branch_labels = None
depends_on = None

# (child table, column, parent table, the foreign key it replaces)
REFERENCES = (
    ("ledger_lines", "policy_id", "policies", "ledger_lines_policy_id_fkey"),
    ("ledger_lines", "disbursement_id", "disbursements", "ledger_lines_disbursement_id_fkey"),
    ("disbursement_workers", "disbursement_id", "disbursements", "disbursement_workers_disbursement_id_fkey"),
)
HOT_TABLES = (("settled_workers", "pk_settled_workers"), ("fact_changes", "fact_changes_pkey"))

# Statement-level: arguments are the column and the parent table (whose key is `id`).
CHILD_CHECK = """
CREATE FUNCTION reference_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  col text := TG_ARGV[0];
  parent text := TG_ARGV[1];
  wanted bigint;
  found bigint;
  missing text;
BEGIN
  EXECUTE format('SELECT count(*) FROM (SELECT DISTINCT %1$I FROM new_rows WHERE %1$I IS NOT NULL) AS s', col)
    INTO wanted;
  IF wanted = 0 THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %2$I AS p WHERE p.id IN (SELECT %1$I FROM new_rows) '
                 'FOR KEY SHARE OF p) AS s', col, parent) INTO found;
  IF found < wanted THEN
    EXECUTE format('SELECT n.%1$I::text FROM new_rows AS n WHERE n.%1$I IS NOT NULL AND NOT EXISTS '
                   '(SELECT 1 FROM %2$I AS p WHERE p.id = n.%1$I) LIMIT 1', col, parent) INTO missing;
    RAISE EXCEPTION 'insert or update on table "%" violates the reference of "%" to "%"', TG_TABLE_NAME, col,
      parent USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = col,
      DETAIL = format('Key (%s)=(%s) is not present in table "%s".', col, missing, parent);
  END IF;
  RETURN NULL;
END $$"""

# Row-level on the parent: arguments are pairs of child table and column.
PARENT_CHECK = """
CREATE FUNCTION reference_parent_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  i int := 0;
  used boolean;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.id IS NOT DISTINCT FROM OLD.id THEN
    RETURN NULL;
  END IF;
  WHILE i < TG_NARGS LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I = $1)', TG_ARGV[i], TG_ARGV[i + 1])
      INTO used USING OLD.id;
    IF used THEN
      RAISE EXCEPTION 'update or delete on table "%" violates the reference from "%"', TG_TABLE_NAME, TG_ARGV[i]
        USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME,
        DETAIL = format('Key (id)=(%s) is still referenced from table "%s".', OLD.id, TG_ARGV[i]);
    END IF;
    i := i + 2;
  END LOOP;
  RETURN NULL;
END $$"""


def _parents() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for child, column, parent, _ in REFERENCES:
        out.setdefault(parent, []).append((child, column))
    return out


def upgrade() -> None:
    op.execute(CHILD_CHECK)
    op.execute(PARENT_CHECK)
    for child, column, parent, fkey in REFERENCES:
        op.execute(f"ALTER TABLE {child} DROP CONSTRAINT {fkey}")
        # Transition tables allow one event per trigger: one for inserts, one for updates.
        for event, rows in (("INSERT", "NEW TABLE AS new_rows"), ("UPDATE", "NEW TABLE AS new_rows")):
            op.execute(f"CREATE TRIGGER ref_{column}_{event.lower()} AFTER {event} ON {child} REFERENCING {rows} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION reference_check('{column}', '{parent}')")
    for parent, children in _parents().items():
        args = ", ".join(f"'{name}'" for pair in children for name in pair)
        op.execute(f"CREATE TRIGGER ref_parent AFTER DELETE OR UPDATE ON {parent} FOR EACH ROW "
                   f"EXECUTE FUNCTION reference_parent_check({args})")
    for table, key in HOT_TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")
        op.execute(f"CLUSTER {table} USING {key}")


def downgrade() -> None:
    for table, _ in HOT_TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    for parent in _parents():
        op.execute(f"DROP TRIGGER ref_parent ON {parent}")
    for child, column, parent, fkey in REFERENCES:
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER ref_{column}_{event} ON {child}")
        op.execute(f"ALTER TABLE {child} ADD CONSTRAINT {fkey} FOREIGN KEY ({column}) REFERENCES {parent} (id)")
    op.execute("DROP FUNCTION reference_parent_check()")
    op.execute("DROP FUNCTION reference_check()")
