# No search_path capture: a role that owns the database (and so its public
# schema) plants operators of the shapes gwresize's SQL used, each of which
# would make the role a superuser when run by one, then calls, polls,
# cancels, updates the extension and has a superuser read every view.
# Nothing of the role's runs as anyone but itself, and it is no superuser
# afterwards.  Two rounds: the default search_path ("$user", public:
# pg_catalog first, so only operators that match better than pg_catalog's
# are reached) and a search_path the role sets for the database and its own
# sessions (public before pg_catalog: any operator is reached).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GwTest qw(:DEFAULT worker_pid);

my $mock = start_mock();
my $node = new_gw_node('search_path', $mock, "log_statement = 'none'\n");
my $ep = "https://127.0.0.1:$mock->{https}";
mock_call($mock, 'POST', 'config', { default_resize_delay_ms => 300 });

# the harness's own statements must not reach the traps either: each starts
# with this (pg_catalog first) and uses no planted shape
my $safe = 'SET search_path = pg_catalog, public;';
sub su { $node->safe_psql('postgres', "$safe $_[0]") }
sub as_mallory
{
	my ($sql, %opt) = @_;
	return $node->psql('postgres', $sql, extra_params => [ '-U', 'mallory' ], %opt);
}

# mallory: a login that owns the database, so its public schema (PG 15+:
# owned by pg_database_owner); USAGE on the servers and a key of her own
su(q{CREATE ROLE mallory LOGIN; ALTER DATABASE postgres OWNER TO mallory; DROP EXTENSION gwresize});

# the traps: each records who ran it and, run by a superuser, makes mallory one
my ($rc, $out, $err) = as_mallory(q{
CREATE TABLE public.captured (who name, what text);
GRANT INSERT ON public.captured TO PUBLIC;
CREATE FUNCTION public.trap(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.captured VALUES (current_user, what);
  IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
    EXECUTE 'ALTER ROLE mallory SUPERUSER';
  END IF;
END $$;
-- int4 * interval: the worker's next poll and retry times
CREATE FUNCTION public.t_int_interval(integer, interval) RETURNS interval LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap('integer * interval'); RETURN pg_catalog.interval_mul($2, $1::pg_catalog.float8); END $$;
CREATE OPERATOR public.* (LEFTARG = integer, RIGHTARG = interval, FUNCTION = public.t_int_interval);
-- numeric * int4: the ages in ms of claimed rows
CREATE FUNCTION public.t_numeric_int(numeric, integer) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap('numeric * integer'); RETURN pg_catalog.numeric_mul($1, $2::pg_catalog.numeric); END $$;
CREATE OPERATOR public.* (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.t_numeric_int);
-- numeric / bigint: gw_summary's success rate
CREATE FUNCTION public.t_numeric_bigint(numeric, bigint) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap('numeric / bigint'); RETURN pg_catalog.numeric_div($1, $2::pg_catalog.numeric); END $$;
CREATE OPERATOR public./ (LEFTARG = numeric, RIGHTARG = bigint, FUNCTION = public.t_numeric_bigint);
-- text || name: gw_cancel's message names the current user
CREATE FUNCTION public.t_text_name(text, name) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap('text || name'); RETURN pg_catalog.textcat($1, $2::pg_catalog.text); END $$;
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = name, FUNCTION = public.t_text_name);
-- jsonb ->> text, reached once public comes before pg_catalog
CREATE FUNCTION public.t_jsonb_text(jsonb, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap('jsonb ->> text'); RETURN pg_catalog.jsonb_object_field_text($1, $2); END $$;
CREATE OPERATOR public.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = public.t_jsonb_text);
-- bigint = bigint, likewise: every statement that looks a row up by id
CREATE FUNCTION public.t_int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.trap('bigint = bigint'); RETURN pg_catalog.int8eq($1, $2); END $$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.t_int8eq);
});
is($rc, 0, 'mallory plants her operators in public') or diag($err);

# a superuser installs the extension where mallory can write (public), as
# the previous version first, then updates it: the update rebinds the views
su(q{CREATE EXTENSION gwresize SCHEMA public VERSION '1.2'; ALTER EXTENSION gwresize UPDATE;});
su(qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', poll_interval_ms '100');
CREATE SERVER hw FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', endpoint '$ep', poll_interval_ms '100');
GRANT USAGE ON FOREIGN SERVER ali, hw TO mallory;
CREATE USER MAPPING FOR mallory SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE USER MAPPING FOR mallory SERVER hw OPTIONS (auth_token 'hw-static-token-0001');
});

su(q{
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO mallory;
GRANT SELECT ON gw_history, gw_summary, gw_inflight TO mallory;});
# and a fresh install of the current version, in another database mallory owns
su(q{CREATE DATABASE other OWNER mallory});
($rc, $out, $err) = $node->psql('other', q{
CREATE FUNCTION public.t_numeric_bigint(numeric, bigint) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.captured VALUES (current_user, 'numeric / bigint (other)');
  RETURN pg_catalog.numeric_div($1, $2::pg_catalog.numeric); END $$;
CREATE TABLE public.captured (who name, what text);
GRANT INSERT ON public.captured TO PUBLIC;
CREATE OPERATOR public./ (LEFTARG = numeric, RIGHTARG = bigint, FUNCTION = public.t_numeric_bigint);
}, extra_params => [ '-U', 'mallory' ]);
is($rc, 0, 'and in a second database') or diag($err);
$node->safe_psql('other', "$safe CREATE EXTENSION gwresize SCHEMA public;
INSERT INTO gw_audit (provider, server_name, instance_id, target_spec, params, mode, status, requested_by)
VALUES ('aliyun', 'ali', 'o-1', 'api.s1.medium', '{\"ModifyAction\": \"UPGRADE\"}', 'sync', 'succeeded', current_user);
SELECT * FROM gw_summary; SELECT * FROM gw_history");
is($node->safe_psql('other', "$safe SELECT count(*) FROM public.captured"), '0',
	'a fresh install binds none of her operators into its views');

# round 1, the default search_path: calls, a queued call, polls, a cancel
sub round
{
	my ($tag) = @_;
	my ($r, $o, $e) = as_mallory(qq{SELECT status FROM gw_modify_spec('$tag-a1', 'api.s1.medium', server => 'ali')});
	like($o, qr/^accepted$/, "$tag: mallory's synchronous call is accepted") or diag($e);
	($r, $o, $e) = as_mallory(qq{SELECT status FROM gw_resize('$tag-h1', 'PROFESSIONAL', server => 'hw')});
	like($o, qr/^accepted$/, "$tag: and her Huawei call") or diag($e);
	($r, $o, $e) = as_mallory(qq{SELECT gw_modify_spec_async('$tag-a2', 'api.s1.large', server => 'ali')});
	like($o, qr/^\d+$/, "$tag: she queues a call") or diag($e);
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 3 FROM gw_audit WHERE instance_id LIKE '$tag-%' AND status = 'succeeded'"),
		"$tag: the worker sends, tracks and polls them to the end");

	# a call tracked while she cancels it: gw_cancel switches to the owner
	($r, $o, $e) = as_mallory(qq{SELECT id FROM gw_modify_spec('$tag-a3', 'api.s1.large', server => 'ali')});
	my $id = $o;
	mock_call($mock, 'POST', 'instances',
		{ provider => 'aliyun', instance_id => "$tag-a3", status => 'MODIFYING' });
	($r, $o, $e) = as_mallory(qq{SELECT gw_cancel($id)});
	is($o, 't', "$tag: she ends the tracking of her call") or diag($e);
	($r, $o, $e) = as_mallory(qq{SELECT status FROM gw_wait($id)});
	is($o, 'accepted', "$tag: gw_wait reads it back") or diag($e);

	# the views, read by a superuser and by her
	su(q{SELECT * FROM gw_history; SELECT * FROM gw_summary; SELECT * FROM gw_inflight});
	($r, $o, $e) = as_mallory(q{SELECT count(*) FROM gw_history, gw_summary});
	is($r, 0, "$tag: she reads the views") or diag($e);

	is(su(q{SELECT coalesce(string_agg(DISTINCT who || ': ' || what, ', '), 'nothing')
		FROM public.captured WHERE who <> 'mallory'}),
		'nothing', "$tag: none of her operators ran as another role");
	is(su(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
		"$tag: she is not a superuser");
}
round('r1');

# round 2: public before pg_catalog, for the database (the worker's next
# connection) and in her own sessions (the owner switches of her calls)
($rc, $out, $err) = as_mallory(q{ALTER DATABASE postgres SET search_path = public, pg_catalog;
ALTER ROLE mallory SET search_path = public, pg_catalog});
is($rc, 0, 'mallory puts public first for the database and for herself') or diag($err);
# a restart of the worker: it connects again, with the database's settings
my $pid = worker_pid($node);
su("SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker' AND pid <> $pid"),
	'the worker is back');
round('r2');

# a queued row claimed at start-up, by the new worker, and its tracking
($rc, $out, $err) = as_mallory(q{BEGIN; SELECT gw_resize_async('r3-h1', 'ENTERPRISE', server => 'hw'); COMMIT;});
is($rc, 0, 'a last call queued') or diag($err);
$node->restart;
ok($node->poll_query_until('postgres',
		"SELECT status = 'succeeded' FROM gw_audit WHERE instance_id = 'r3-h1'"),
	'it is sent after a restart and tracked to the end');
is(su(q{SELECT coalesce(string_agg(DISTINCT who || ': ' || what, ', '), 'nothing')
	FROM public.captured WHERE who <> 'mallory'}),
	'nothing', 'still none of her operators ran as another role');
is(su(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f', 'nor is she a superuser');

# the control: each of her operators fires when an expression of its shape
# reaches it (her own session, public first), so the checks above could fail
($rc, $out, $err) = as_mallory(q{DELETE FROM public.captured;
SELECT 1 * interval '1 second', 1.5 * 2, 1.5 / 2::bigint,
  'a'::text || 'b'::name, '{"x": 1}'::jsonb ->> 'x'::text, 1::bigint = 1::bigint});
is($rc, 0, 'control: she uses the six shapes herself') or diag($err);
is(su(q{SELECT count(DISTINCT what) FROM public.captured WHERE who = 'mallory'}), '6',
	'control: each of her six operators ran, as her');
$node->stop;
done_testing();
