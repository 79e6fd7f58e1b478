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


# The entity key of a row `{j}` (jsonb), and the columns kept from it; written inline (no function call per
# row): `keys`, `cols`, `drop_cols` and `digest` are the capture function's variables.
_KEY = ("CASE WHEN cardinality(keys) = 1 THEN {j} ->> keys[1] "
        "ELSE array_to_string(ARRAY(SELECT {j} ->> k FROM unnest(keys) AS k), '/') END")
_PICK = ("CASE WHEN digest IS NULL THEN {j} - drop_cols ELSE ({j} - drop_cols) || (SELECT jsonb_object_agg(c, "
         "CASE WHEN {j} ->> c IS NULL THEN 'null'::jsonb "
         "ELSE to_jsonb('sha256:' || encode(sha256(CASE WHEN c = ANY(text_digest) THEN convert_to({j} ->> c, 'UTF8') "
         "ELSE decode(substr({j} ->> c, 3), 'hex') END), 'hex')) END) "
         "FROM unnest(digest) AS c) END")


def canonical_sql(row: str) -> str:
    return " || ".join(f"audit_field({expr.format(r=row)})" for expr in RENDERED)


FUNCTIONS = f"""
CREATE FUNCTION audit_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN v IS NULL THEN '-' ELSE length(v)::text || ':' || v END $$;

-- Statement-level AFTER INSERT / UPDATE / DELETE on a business table, over its transition tables (one
-- set-based INSERT per statement, so a 10,000-row upsert or COPY costs one statement, not 10,000 calls).
-- Arguments: the key columns (comma-separated), the worker column ('' if none), then the columns whose
-- before/after the trail keeps; a name starting with '#' is kept as the sha256 of its bytes (bytea) or of its
-- UTF-8 text (other types): encrypted values, password and secret hashes show that they changed, never what
-- they hold. An update keeps what changed.
CREATE FUNCTION audit_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ctx jsonb := nullif(current_setting('socialwork.audit', true), '')::jsonb;
  actor text := coalesce(ctx ->> 'actor', 'db:' || session_user);
  keys text[] := string_to_array(TG_ARGV[0], ',');
  wcol text := nullif(TG_ARGV[1], '');
  cols text[] := TG_ARGV[2:TG_NARGS - 1];
  digest text[] := ARRAY(SELECT substr(c, 2) FROM unnest(cols) AS c WHERE left(c, 1) = '#');
  drop_cols text[] := ARRAY(SELECT a.attname::text FROM pg_attribute AS a WHERE a.attrelid = TG_RELID
                            AND a.attnum > 0 AND NOT a.attisdropped AND a.attname::text <> ALL (cols));
  text_digest text[] := '{{}}';
BEGIN
  IF cardinality(digest) > 0 THEN
    drop_cols := drop_cols || digest;
    text_digest := ARRAY(SELECT a.attname::text FROM pg_attribute AS a WHERE a.attrelid = TG_RELID
                         AND a.attname::text = ANY (digest) AND a.atttypid <> 'bytea'::regtype);
  ELSE
    digest := NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO audit_log (actor, roles, client_id, request_id, method, path, action, entity, entity_id,
                           worker_id, before, after)
    SELECT actor, ctx ->> 'roles', ctx ->> 'client_id', ctx ->> 'request_id', ctx ->> 'method', ctx ->> 'path',
           'insert', TG_TABLE_NAME, {_KEY.format(j='j')}, (j ->> wcol)::uuid, NULL, {_PICK.format(j='j')}
    FROM (SELECT to_jsonb(n) AS j FROM new_rows AS n) AS s;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO audit_log (actor, roles, client_id, request_id, method, path, action, entity, entity_id,
                           worker_id, before, after)
    SELECT actor, ctx ->> 'roles', ctx ->> 'client_id', ctx ->> 'request_id', ctx ->> 'method', ctx ->> 'path',
           'delete', TG_TABLE_NAME, {_KEY.format(j='j')}, (j ->> wcol)::uuid, {_PICK.format(j='j')}, NULL
    FROM (SELECT to_jsonb(o) AS j FROM old_rows AS o) AS s;
  ELSE
    INSERT INTO audit_log (actor, roles, client_id, request_id, method, path, action, entity, entity_id,
                           worker_id, before, after)
    SELECT actor, ctx ->> 'roles', ctx ->> 'client_id', ctx ->> 'request_id', ctx ->> 'method', ctx ->> 'path',
           'update', TG_TABLE_NAME, n.k, (n.j ->> wcol)::uuid, d.b, d.a
    FROM (SELECT {_KEY.format(j='j')} AS k, {_PICK.format(j='j')} AS p
          FROM (SELECT to_jsonb(o) AS j FROM old_rows AS o) AS s) AS o
    JOIN (SELECT {_KEY.format(j='j')} AS k, j, {_PICK.format(j='j')} AS p
          FROM (SELECT to_jsonb(n) AS j FROM new_rows AS n) AS s) AS n USING (k)
    CROSS JOIN LATERAL (
      SELECT coalesce(jsonb_object_agg(key, o.p -> key), '{{}}') AS b,
             coalesce(jsonb_object_agg(key, value), '{{}}') AS a
      FROM jsonb_each(n.p) WHERE o.p -> key IS DISTINCT FROM value) AS d;
  END IF;
  RETURN NULL;
END $$;

-- Deferred to the commit: seals every unsealed row of this transaction in insertion order, in one UPDATE.
-- The chain lock is held from here to the end of the commit only, so it never waits on a row lock (no
-- deadlock) and holds up other writers for the sealing alone.
CREATE FUNCTION audit_seal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  upto bigint := coalesce(nullif(current_setting('socialwork.audit_sealed', true), '')::bigint, 0);
  prev text;
  r audit_log;
  ids bigint[] := '{{}}';
  seqs bigint[] := '{{}}';
  ats timestamptz[] := '{{}}';
  prevs text[] := '{{}}';
  hashes text[] := '{{}}';
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
    ids := ids || r.id;
    seqs := seqs || r.seq;
    ats := ats || r.at;
    prevs := prevs || r.prev_hash;
    hashes := hashes || r.hash;
    prev := r.hash;
    upto := greatest(upto, r.id);
  END LOOP;
  UPDATE audit_log AS a SET seq = u.seq, at = u.at, prev_hash = u.prev_hash, hash = u.hash
  FROM unnest(ids, seqs, ats, prevs, hashes) AS u(id, seq, at, prev_hash, hash) WHERE a.id = u.id;
  PERFORM set_config('socialwork.audit_sealed', upto::text, true);
  RETURN NULL;
END $$;

-- Sealed rows never change (the seal's own update of unsealed rows never calls it: see the WHEN clause);
-- rows younger than {RETENTION} cannot be deleted; the table cannot be truncated.
CREATE FUNCTION audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'the audit trail cannot be truncated' USING ERRCODE = 'insufficient_privilege';
  ELSIF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'audit row % is sealed and cannot be changed', OLD.seq USING ERRCODE = 'insufficient_privilege';
  ELSIF OLD.at IS NULL OR OLD.at > now() - interval '{RETENTION}' THEN
    RAISE EXCEPTION 'audit row % is younger than {RETENTION} and cannot be purged', OLD.seq
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN OLD;
END $$;

CREATE SEQUENCE audit_log_seq_seq OWNED BY audit_log.seq;

CREATE CONSTRAINT TRIGGER audit_seal AFTER INSERT ON audit_log DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION audit_seal();

CREATE TRIGGER audit_guard_update BEFORE UPDATE ON audit_log FOR EACH ROW WHEN (OLD.hash IS NOT NULL)
  EXECUTE FUNCTION audit_guard();

CREATE TRIGGER audit_guard_delete BEFORE DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_guard();

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


def create_audit_trail_capturing(op, captured: dict[str, tuple[str, str, tuple[str, ...]]]) -> None:
    """A service's audit migration: the trail, and `capture` on each table of `captured`
    (table: key columns, worker column or '', columns whose before/after the trail keeps)."""
    create_audit_trail(op)
    for name, (key, worker, columns) in captured.items():
        capture(op, name, key=key, worker=worker, columns=columns)


def capture(op, table: str, *, key: str = "id", worker: str = "", columns: tuple[str, ...] = (),
            actions: tuple[str, ...] = ("INSERT", "DELETE", "UPDATE")) -> None:
    """Record every write to `table` in the trail, with before/after of `columns` ('#col': its sha256)."""
    args = ", ".join(f"'{a}'" for a in (key, worker, *columns))
    for action, tables in (("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows"),
                           ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")):
        if action not in actions:
            continue
        op.execute(f"CREATE TRIGGER audit_capture_{action.lower()} AFTER {action} ON {table} REFERENCING {tables} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION audit_capture({args})")


# Tables written in bulk (a disbursement batch's ledger): ONE trail row per INSERT statement instead of one per
# row. It names the rows (`ids`: runs of the bigint key) and holds `digest`: the sha256 over chunks of
# DIGEST_CHUNK rows (by key // DIGEST_CHUNK, in key order) of each row's binary form (`record_send` of the key
# and the columns that never change after the insert). `verify` reads the rows again and recomputes it, so a
# row edited or deleted afterwards is named, also when the capture triggers were switched off to do it.
# Later changes of the other columns (a line marked paid) are captured row by row like any update.
DIGEST_CHUNK = 10_000
BULK_ACTION = "insert_rows"


ROWS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_capture_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ctx jsonb := nullif(current_setting('socialwork.audit', true), '')::jsonb;
  actor text := coalesce(ctx ->> 'actor', 'db:' || session_user);
  key text := TG_ARGV[0];
  cols text[] := TG_ARGV[1:TG_NARGS - 1];
  summary jsonb;
BEGIN
  EXECUTE format($q$
    WITH r AS MATERIALIZED (SELECT %1$I AS k, record_send(ROW(%2$s)) AS b FROM new_rows),
    chunks AS (SELECT k / {DIGEST_CHUNK} AS c, sha256(string_agg(b, ''::bytea ORDER BY k)) AS h FROM r GROUP BY 1),
    runs AS (SELECT min(k) AS lo, max(k) AS hi FROM (SELECT k, k - row_number() OVER (ORDER BY k) AS g FROM r) s
             GROUP BY g)
    SELECT jsonb_build_object(
      'rows', (SELECT count(*) FROM r), 'key', %1$L, 'columns', to_jsonb(%3$L::text[]),
      'ids', (SELECT jsonb_agg(jsonb_build_array(lo, hi) ORDER BY lo) FROM runs),
      'digest', (SELECT encode(sha256(string_agg(h, ''::bytea ORDER BY c)), 'hex') FROM chunks))$q$,
    key, array_to_string(ARRAY(SELECT quote_ident(c) FROM unnest(key || cols) AS c), ', '), cols) INTO summary;
  IF (summary ->> 'rows')::bigint > 0 THEN
    INSERT INTO audit_log (actor, roles, client_id, request_id, method, path, action, entity, after)
    VALUES (actor, ctx ->> 'roles', ctx ->> 'client_id', ctx ->> 'request_id', ctx ->> 'method', ctx ->> 'path',
            '{BULK_ACTION}', TG_TABLE_NAME, summary);
  END IF;
  RETURN NULL;
END $$"""


def capture_rows(op, table: str, *, key: str, columns: tuple[str, ...]) -> None:
    """Record each INSERT into `table` as one trail row with a digest of `columns` (see ROWS_FUNCTION); updates
    and deletes stay row by row (`capture`). `key` is a bigint column, unique; `columns` never change."""
    op.execute(ROWS_FUNCTION)
    args = ", ".join(f"'{a}'" for a in (key, *columns))
    op.execute(f"DROP TRIGGER IF EXISTS audit_capture_insert ON {table}")
    op.execute(f"CREATE TRIGGER audit_capture_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
               f"FOR EACH STATEMENT EXECUTE FUNCTION audit_capture_rows({args})")


def drop_audit_trail(op, tables: tuple[str, ...]) -> None:
    for name in tables:
        for action in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_capture_{action} ON {name}")
    op.execute("DROP TABLE audit_log, audit_anchor")
    op.execute("DROP FUNCTION audit_capture(), audit_seal(), audit_guard(), audit_field(text)")
