-- FerretDB 1.x on PostgreSQL: make its indexes usable by its own queries.
--
-- FerretDB stores a collection as a table of one jsonb column (_jsonb) and a MongoDB index as a
-- btree on expressions such as (_jsonb -> '_id'). Its pushed-down filters, though, are
-- containment tests with a parameter for the key: `WHERE _jsonb->$1 @> $2` (an equality
-- `{_id: "x"}`, `{tenant_id: "t"}`). A btree does not serve @>, and a generic plan does not
-- know the key: every find by _id read the whole table (2.4 ms of PostgreSQL's CPU at 10,000
-- documents, growing with the table; FerretDB issue #4646).
--
-- The remedy, from that issue: a GIN index on the same expression (jsonb's @> is a GIN
-- operator), and plans made for each execution's parameters (plan_cache_mode=
-- force_custom_plan, set by postgres.sh) so that `_jsonb->$1` becomes `_jsonb->'_id'` and
-- matches the index. Measured with pymongo against FerretDB 1.24 on PostgreSQL 15 at 10,000
-- documents: find by _id 1.87 -> 0.08 ms of PostgreSQL CPU, update by _id 2.31 -> 0.16.
--
-- An event trigger adds the GIN indexes whenever FerretDB creates a btree index: one on each of
-- its fields (every collection's _id index, and every field of each declared index). Not only
-- the first: a find by {provider, provider_message_id} served by the index on `provider` read
-- every message of the provider (105 rows per find at 3,500 messages, growing with the table);
-- with one per field the planner takes the selective one (its statistics know that `provider`
-- is the same everywhere).
-- The DO block at the end does the same for the tables that exist already. Without GIN's
-- pending list (fastupdate = off): a find would scan the list of every insert not yet merged
-- (find by _id 0.38 ms against 0.08 after 10,000 inserts). Idempotent: run by infra.sh each
-- time the cluster starts.

CREATE OR REPLACE FUNCTION connectflo_gin_for(index_oid oid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  def text := pg_get_indexdef(index_oid);
  found text[];
  field text;
  tbl oid;
  gin_name text;
BEGIN
  -- FerretDB's: CREATE [UNIQUE] INDEX name ON schema.table USING btree (((_jsonb -> 'f'::text)) ...
  IF def !~ 'USING btree \(\(\(_jsonb -> ' THEN
    RETURN;
  END IF;
  SELECT indrelid INTO tbl FROM pg_index WHERE indexrelid = index_oid;
  FOR found IN SELECT regexp_matches(def, $re$\(_jsonb -> '((?:[^']|'')+)'::text\)$re$, 'g')
  LOOP
    field := replace(found[1], '''''', '''');
    gin_name := left((SELECT relname FROM pg_class WHERE oid = tbl), 40) || '_'
      || left(md5(field), 8) || '_gin';
    CONTINUE WHEN EXISTS (
      SELECT 1 FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
      WHERE i.indrelid = tbl AND c.relname = gin_name
    );
    EXECUTE format(
      'CREATE INDEX %I ON %s USING gin ((_jsonb -> %L)) WITH (fastupdate = off)',
      gin_name, tbl::regclass, field
    );
  END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION connectflo_gin_on_create_index() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  created record;
BEGIN
  FOR created IN
    SELECT objid FROM pg_event_trigger_ddl_commands()
    WHERE command_tag = 'CREATE INDEX' AND object_type = 'index'
  LOOP
    PERFORM connectflo_gin_for(created.objid);
  END LOOP;
END;
$$;

DROP EVENT TRIGGER IF EXISTS connectflo_gin_on_create_index;
CREATE EVENT TRIGGER connectflo_gin_on_create_index ON ddl_command_end
  WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION connectflo_gin_on_create_index();

DO $$
DECLARE
  existing record;
BEGIN
  FOR existing IN
    SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  LOOP
    PERFORM connectflo_gin_for(existing.indexrelid);
  END LOOP;
END;
$$;
