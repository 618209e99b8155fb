# The upgrade path: version 1.0 installed with rows in gw_audit; the newer
# library refuses to act on the old SQL and says what to run; ALTER
# EXTENSION gwresize UPDATE keeps every row, the worker then sends what was
# queued, calls work, and the updated schema equals a fresh install
# (columns, defaults, constraints, indexes, views, functions, privileges,
# comments, extension membership and dump configuration).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('upgrade', $mock);
my $ep = "https://127.0.0.1:$mock->{https}";
my $latest = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'gwresize'");

$node->safe_psql('postgres', "DROP EXTENSION gwresize; CREATE EXTENSION gwresize VERSION '1.0'");
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'gwresize'"),
	'1.0', 'version 1.0 is installed');
$node->safe_psql(
	'postgres', qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
-- the history a 1.0 installation had: finished rows, and one still queued
INSERT INTO gw_audit (provider, server_name, instance_id, target_spec, params, client_token,
                      mode, status, attempts, requested_by, requested_at, answered_at, http_status, request_id)
VALUES ('aliyun', 'ali', 'old-1', 'api.s1.medium', '{"Action": "ModifyInstanceSpec"}', 'old-token-1',
        'sync', 'succeeded', 1, current_user, now() - interval '2 days', now() - interval '2 days', 200, 'RID-1'),
       ('aliyun', 'ali', 'old-2', 'api.s1.large', '{"Action": "ModifyInstanceSpec"}', 'old-token-2',
        'async', 'failed', 3, current_user, now() - interval '1 day', now() - interval '1 day', 503, 'RID-2'),
       ('aliyun', 'ali', 'old-3', 'api.s1.medium',
        '{"Action": "ModifyInstanceSpec", "ModifyAction": "UPGRADE", "AutoPay": false, "SkipWaitSwitch": false}',
        'old-token-3', 'async', 'queued', 0, current_user, now() - interval '1 hour', NULL, NULL, NULL);
});

# the newer library with the old SQL: a clear refusal, nothing sent
my ($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT gw_modify_spec('new-1', 'api.s1.medium', server => 'ali')");
like($err, qr/55000: the installed gwresize SQL is older than its library \(\Q$latest\E\)/,
	'a call on 1.0 SQL is refused (55000)');
like($err, qr/HINT:  Run ALTER EXTENSION gwresize UPDATE\./, 'and the hint says what to run');
ok($node->wait_for_log(qr/older than its library \(\Q$latest\E\); nothing is sent/),
	'the worker says it waits for the update');
is(mock_count($mock, token => 'old-token-3'), 0, 'the queued 1.0 row is not sent before the update');

$node->safe_psql('postgres', 'ALTER EXTENSION gwresize UPDATE');
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'gwresize'"),
	$latest, "updated to $latest");
is($node->safe_psql('postgres', "SELECT count(*) FROM gw_audit WHERE instance_id LIKE 'old-%'"),
	'3', 'every row survived the update');
is($node->safe_psql('postgres',
		"SELECT string_agg(status || ':' || attempts || ':' || coalesce(request_id, ''), ',' ORDER BY id) FROM gw_audit WHERE instance_id IN ('old-1', 'old-2')"),
	'succeeded:1:RID-1,failed:3:RID-2', 'finished rows are unchanged');

# the worker notices the update (a call wakes it) and sends the queued row
like($node->safe_psql('postgres',
		"SELECT status FROM gw_modify_spec('new-1', 'api.s1.medium', server => 'ali')"),
	qr/^accepted$/, 'a call works after the update');
ok($node->poll_query_until('postgres',
		"SELECT status IN ('accepted', 'succeeded') FROM gw_audit WHERE instance_id = 'old-3'"),
	'the row queued under 1.0 is sent after the update');
is(mock_count($mock, token => 'old-token-3'), 1, 'with its Token, once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM gw_history'), '4', 'the history reports every row');

# the updated schema equals a fresh install
my $catalog = q{
SELECT kind || ' ' || name || ' ' || coalesce(detail, '') FROM (
  SELECT 'column' AS kind, c.relname || '.' || a.attname AS name,
         a.attnum || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
           || ' identity=' || a.attidentity::text || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
           || ' comment=' || coalesce(col_description(c.oid, a.attnum), '') AS detail
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'relation', c.relname, c.relkind::text || ' acl=' || coalesce(c.relacl::text, '')
           || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'index', c.relname, pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'constraint', conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'view', c.relname, pg_get_viewdef(c.oid)
    FROM pg_class c WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'function', p.oid::regprocedure::text,
         pg_get_function_result(p.oid) || ' args=' || pg_get_function_arguments(p.oid)
           || ' ' || p.provolatile::text || p.proparallel::text || p.proisstrict || p.prosecdef
           || ' src=' || p.prosrc || ' acl=' || coalesce(p.proacl::text, '')
           || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
    FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'member', pg_describe_object(classid, objid, objsubid), ''
    FROM pg_depend WHERE deptype = 'e'
     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'gwresize')
  UNION ALL
  SELECT 'config', x.c::regclass::text, x.w
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(c, w) WHERE e.extname = 'gwresize'
  UNION ALL
  SELECT 'fdw', fdwname, fdwvalidator::regproc::text || ' comment='
           || coalesce(obj_description(oid, 'pg_foreign_data_wrapper'), '')
    FROM pg_foreign_data_wrapper
) x ORDER BY 1};
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION gwresize');
my $updated = $node->safe_psql('postgres', $catalog);
my $fresh = $node->safe_psql('fresh', $catalog);
ok(length($fresh) > 1000, 'the catalog listing is not empty (' . scalar(split /\n/, $fresh) . ' lines)');
is($updated, $fresh, 'the updated schema equals a fresh install');

done_testing();
