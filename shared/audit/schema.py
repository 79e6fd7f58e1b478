"""DDL of the audit trail for each service's audit migration: tables, chain sealing, guards, capture triggers.

The canonical text a row's hash covers is defined once here (`RENDERED`): the sealing function and the
verifier render the same columns with the same expressions, and each value is length-prefixed (`5:hello`,
`-` for null) so that no content can move from one field to the next.
"""

from __future__ import annotations

from shared.audit import audit_tables
from shared.db import new_metadata

CHAIN_LOCK_ID = 0xA0D17  # one sealer at a time per service database
RETENTION = "180 days"
GENESIS = "0" * 64
# Column renderings, in hash order; `{r}` is the row. prev_hash is last.
RENDERED = (
    "{r}.seq::text",
    "to_char({r}.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    "{r}.actor", "{r}.roles", "{r}.client_id", "{r}.request_id", "{r}.method", "{r}.path", "{r}.action",
    "{r}.entity", "{r}.entity_id", "{r}.worker_id::text", "{r}.before::text", "{r}.after::text", "{r}.purpose",
    "{r}.prev_hash",
)


def canonical_sql(row: str) -> str:
    return " || ".join(f"audit_field({expr.format(r=row)})" for expr in RENDERED)


FUNCTIONS = f"""
CREATE FUNCTION audit_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN v IS NULL THEN '-' ELSE length(v)::text || ':' || v END $$;

-- The columns of a changed row that the trail keeps; a name starting with '#' is kept as the sha256 of its
-- bytes (encrypted values: the trail shows that they changed, never what they hold).
CREATE FUNCTION audit_pick(r jsonb, cols text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN r IS NULL THEN NULL ELSE coalesce(jsonb_object_agg(k, CASE
      WHEN d AND r->>k IS NOT NULL THEN to_jsonb('sha256:' || encode(sha256(decode(substr(r->>k, 3), 'hex')), 'hex'))
      ELSE r->k END), '{{}}'::jsonb) END
  FROM (SELECT ltrim(c, '#') AS k, left(c, 1) = '#' AS d FROM unnest(cols) AS c) AS picked
$$;

-- AFTER INSERT/UPDATE/DELETE on a business table. Arguments: the key columns (comma-separated), the worker
-- column ('' if none), then the columns whose before/after are kept.
CREATE FUNCTION audit_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ctx jsonb := nullif(current_setting('socialwork.audit', true), '')::jsonb;
  old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
  any_row jsonb := coalesce(new_row, old_row);
  cols text[] := TG_ARGV[2:TG_NARGS - 1];
  before_ jsonb := audit_pick(old_row, cols);
  after_ jsonb := audit_pick(new_row, cols);
  b jsonb;
  a jsonb;
BEGIN
  IF TG_OP = 'UPDATE' THEN  -- only what changed
    SELECT coalesce(jsonb_object_agg(key, before_ -> key), '{{}}'), coalesce(jsonb_object_agg(key, value), '{{}}')
      INTO b, a FROM jsonb_each(after_) WHERE before_ -> key IS DISTINCT FROM value;
    before_ := b;
    after_ := a;
  END IF;
  INSERT INTO audit_log (actor, roles, client_id, request_id, method, path, action, entity, entity_id,
                         worker_id, before, after)
  VALUES (coalesce(ctx ->> 'actor', 'db:' || session_user), ctx ->> 'roles', ctx ->> 'client_id',
          ctx ->> 'request_id', ctx ->> 'method', ctx ->> 'path', lower(TG_OP), TG_TABLE_NAME,
          (SELECT string_agg(any_row ->> k, '/') FROM unnest(string_to_array(TG_ARGV[0], ',')) AS k),
          (any_row ->> nullif(TG_ARGV[1], ''))::uuid, before_, after_);
  RETURN NULL;
END $$;

-- Deferred to the commit: seals every unsealed row of this transaction in insertion order. The chain lock
-- is held from here to the end of the commit only, so it never waits on a row lock (no deadlock) and
-- holds up other writers for the sealing alone.
CREATE FUNCTION audit_seal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  upto bigint := coalesce(nullif(current_setting('socialwork.audit_sealed', true), '')::bigint, 0);
  prev text;
  r audit_log;
BEGIN
  IF NEW.id <= upto THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock({CHAIN_LOCK_ID});
  SELECT hash INTO prev FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
  IF prev IS NULL THEN
    SELECT hash INTO prev FROM audit_anchor;
  END IF;
  FOR r IN SELECT * FROM audit_log WHERE hash IS NULL ORDER BY id LOOP
    r.seq := nextval('audit_log_seq_seq');
    r.at := clock_timestamp();
    r.prev_hash := prev;
    r.hash := encode(sha256(convert_to({canonical_sql('r')}, 'UTF8')), 'hex');
    UPDATE audit_log SET seq = r.seq, at = r.at, prev_hash = r.prev_hash, hash = r.hash WHERE id = r.id;
    prev := r.hash;
    upto := greatest(upto, r.id);
  END LOOP;
  PERFORM set_config('socialwork.audit_sealed', upto::text, true);
  RETURN NULL;
END $$;

-- Sealed rows never change; rows younger than {RETENTION} cannot be deleted; the table cannot be truncated.
CREATE FUNCTION audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'the audit trail cannot be truncated' USING ERRCODE = 'insufficient_privilege';
  ELSIF TG_OP = 'UPDATE' AND OLD.hash IS NOT NULL THEN
    RAISE EXCEPTION 'audit row % is sealed and cannot be changed', OLD.seq USING ERRCODE = 'insufficient_privilege';
  ELSIF TG_OP = 'DELETE' AND (OLD.at IS NULL OR OLD.at > now() - interval '{RETENTION}') THEN
    RAISE EXCEPTION 'audit row % is younger than {RETENTION} and cannot be purged', OLD.seq
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE SEQUENCE audit_log_seq_seq OWNED BY audit_log.seq;

CREATE CONSTRAINT TRIGGER audit_seal AFTER INSERT ON audit_log DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION audit_seal();

CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_guard();

CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();

INSERT INTO audit_anchor (seq, hash) VALUES (0, '{GENESIS}');
"""


def create_audit_trail(op) -> None:
    """For a service's audit migration: the tables (as `audit_tables` defines them), functions and guards."""
    metadata = new_metadata()
    audit_tables(metadata)
    metadata.create_all(op.get_bind())
    for statement in FUNCTIONS.strip().split(";\n\n"):  # one statement per call (prepared statements)
        op.execute(statement)


def capture(op, table: str, *, key: str = "id", worker: str = "", columns: tuple[str, ...] = ()) -> None:
    """Record every write to `table` in the trail, with before/after of `columns` ('#col': its sha256)."""
    args = ", ".join(f"'{a}'" for a in (key, worker, *columns))
    op.execute(f"CREATE TRIGGER audit_capture AFTER INSERT OR UPDATE OR DELETE ON {table} "
               f"FOR EACH ROW EXECUTE FUNCTION audit_capture({args})")


def drop_audit_trail(op, tables: tuple[str, ...]) -> None:
    for name in tables:
        op.execute(f"DROP TRIGGER IF EXISTS audit_capture ON {name}")
    op.execute("DROP TABLE audit_log, audit_anchor")
    op.execute("DROP FUNCTION audit_capture(), audit_seal(), audit_guard(), audit_pick(jsonb, text[]), "
               "audit_field(text)")
