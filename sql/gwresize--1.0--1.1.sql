/* gwresize--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION gwresize UPDATE TO '1.1'" to load this file. \quit

-- The cluster this installation belongs to, and since when it acts on
-- gw_audit.  pg_dump carries the row: a copy restored into another cluster
-- (or one after pg_upgrade) finds another cluster's system identifier here,
-- and while a restore runs, its rows are older than the new installation.
-- Either way its worker sends and polls nothing, and new calls are refused,
-- until the extension owner runs gw_adopt().
CREATE TABLE @extschema@.gw_installation (
    system_identifier bigint NOT NULL,
    acts_since        timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- an update in place: the rows already here are this cluster's
INSERT INTO @extschema@.gw_installation (system_identifier, acts_since)
SELECT c.system_identifier,
       least(pg_catalog.now(), (SELECT min(a.requested_at) FROM @extschema@.gw_audit a))
  FROM pg_catalog.pg_control_system() c;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.gw_installation', '');

REVOKE ALL ON @extschema@.gw_installation FROM PUBLIC;

COMMENT ON TABLE @extschema@.gw_installation IS
  'gwresize: the cluster (system identifier) whose worker acts on gw_audit; a copy restored elsewhere waits for gw_adopt()';
COMMENT ON COLUMN @extschema@.gw_installation.system_identifier IS
  'pg_control_system().system_identifier of the cluster the installation belongs to';
COMMENT ON COLUMN @extschema@.gw_installation.acts_since IS
  'the worker acts on calls requested from this time on: older open calls came with a restore, until gw_adopt()';

CREATE FUNCTION @extschema@.gw_adopt()
RETURNS bigint
AS 'MODULE_PATHNAME', 'gw_adopt'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.gw_adopt() IS
  'make this cluster the owner of a restored or upgraded copy''s open calls, so the worker acts on them; extension owner or superuser; returns how many are open';

REVOKE ALL ON FUNCTION @extschema@.gw_adopt() FROM PUBLIC;

COMMENT ON FUNCTION @extschema@.gw_cancel(bigint) IS
  'cancel a call that is queued or waiting to be retried (your own; any for the extension owner); in a copy not yet adopted, any open call; false otherwise';
