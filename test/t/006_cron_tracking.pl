# pg_cron schedules resizes (an evening downsize and a morning upsize of two
# instances) as the job's owner; a provider rejection fails the cron run
# with the provider's message.  Tracking survives a restart.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GwTest;

# pg_cron as the distribution packages it (postgresql-NN-cron): Debian has
# none for some versions (19 today), and then there is nothing to test
my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
plan skip_all => "pg_cron is not installed for this PostgreSQL ($pkglibdir/pg_cron.so)"
  unless -f "$pkglibdir/pg_cron.so";

my $mock = start_mock();
mock_call($mock, 'POST', 'config', { default_resize_delay_ms => 8000 });
# the later shared_preload_libraries line wins over new_gw_node's
my $node = new_gw_node('cron', $mock, q{
shared_preload_libraries = 'gwresize,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
my $ep = "https://127.0.0.1:$mock->{https}";
$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_cron;
CREATE ROLE ops LOGIN;
GRANT USAGE ON SCHEMA cron TO ops;
CREATE SERVER aliyun_hz FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep',
           poll_interval_ms '200', tracking_timeout_ms '60000');
CREATE USER MAPPING FOR ops SERVER aliyun_hz
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER huawei_bj4 FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001', endpoint '$ep',
           poll_interval_ms '200', tracking_timeout_ms '60000');
CREATE USER MAPPING FOR ops SERVER huawei_bj4 OPTIONS (auth_token 'hw-static-token-0001');
GRANT USAGE ON FOREIGN SERVER aliyun_hz, huawei_bj4 TO ops;
GRANT EXECUTE ON FUNCTION gw_modify_spec(text, text, text, boolean, boolean, text, name, boolean),
                          gw_resize(text, text, name, boolean) TO ops;
GRANT SELECT ON gw_audit TO ops;
});
mock_call($mock, 'POST', 'instances',
	{ provider => 'aliyun', instance_id => 'apigateway-cn-day', spec => 'api.s2.large' });

# the evening downsize and the morning upsize, scheduled by ops (every
# minute here, '0 20 * * *' and '0 7 * * *' in real life)
$node->safe_psql('postgres', q{
SET ROLE ops;
SELECT cron.schedule('evening-down', '* * * * *',
  $$SELECT gw_modify_spec('apigateway-cn-day', 'api.s1.small', 'DOWNGRADE')$$);
SELECT cron.schedule('morning-up', '* * * * *',
  $$SELECT gw_resize('hw-day', 'PROFESSIONAL')$$);
SELECT cron.schedule('rejected', '* * * * *',
  $$SELECT gw_resize('nf-missing', 'ENTERPRISE')$$);
});
ok($node->poll_query_until('postgres', q{
SELECT count(DISTINCT j.jobname) = 3 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
 WHERE d.status IN ('succeeded', 'failed')}), 'the three cron jobs ran');

is($node->safe_psql('postgres', q{
SELECT d.status FROM cron.job_run_details d JOIN cron.job j USING (jobid)
 WHERE j.jobname = 'evening-down' AND d.status IN ('succeeded', 'failed') ORDER BY d.runid LIMIT 1}),
	'succeeded', 'the downsize job succeeded (its first run)') or
  diag($node->safe_psql('postgres', 'SELECT jobid, status, return_message FROM cron.job_run_details'));
like($node->safe_psql('postgres', q{
SELECT d.return_message FROM cron.job_run_details d JOIN cron.job j USING (jobid)
 WHERE j.jobname = 'rejected' AND d.status = 'failed' LIMIT 1}),
	qr/huawei rejected the resize of instance "nf-missing"/, 'a provider rejection fails the cron run');
like($node->safe_psql('postgres', q{
SELECT d.return_message FROM cron.job_run_details d JOIN cron.job j USING (jobid)
 WHERE j.jobname = 'rejected' AND d.status = 'failed' LIMIT 1}),
	qr/code "APIC.7302", message "[^"]*Instance not found"/, 'with the provider\'s code and message');
$node->safe_psql('postgres', q{SELECT cron.unschedule(jobid) FROM cron.job});
is($node->safe_psql('postgres', q{
SELECT string_agg(DISTINCT requested_by::text, ',') FROM gw_audit}),
	'ops', 'the audit shows the job owner in requested_by');

# tracking, across a restart in the middle
ok($node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM gw_audit WHERE instance_id = 'apigateway-cn-day' AND status IN ('accepted', 'succeeded')}),
	'the downsize was accepted');
$node->restart;
ok($node->poll_query_until('postgres', q{
SELECT status = 'succeeded' FROM gw_audit WHERE instance_id = 'apigateway-cn-day'
 AND status IN ('accepted', 'succeeded') ORDER BY id LIMIT 1}),
	'tracking resumed after the restart: succeeded');
ok($node->poll_query_until('postgres', q{
SELECT status = 'succeeded' FROM gw_audit WHERE instance_id = 'hw-day'
 AND status IN ('accepted', 'succeeded') ORDER BY id LIMIT 1}),
	'the Huawei upsize succeeded');
is($node->safe_psql('postgres', q{
SELECT from_spec = 'api.s2.large' AND to_spec = 'api.s1.small' AND modify_action = 'DOWNGRADE' FROM gw_history
 WHERE instance_id = 'apigateway-cn-day' AND outcome = 'succeeded' ORDER BY id LIMIT 1}),
	't', 'the history shows the downsize, from the spec read before it');
$node->stop;
done_testing();
