# A cancel, a statement_timeout or a terminate releases a waiting caller at
# once (57014), while the worker goes on and records the call's true
# outcome.  One resize per instance at a time.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('cancel', $mock);
gw_servers($node, $mock, "read_before_resize 'false', timeout_ms '8000', max_retries '0'");

sub row_status
{
	my ($inst) = @_;
	return $node->safe_psql('postgres',
		"SELECT status FROM gw_audit WHERE instance_id = '$inst'");
}

# -- pg_cancel_backend during a slow call
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', kind => 'latency', ms => 1500 } ] });
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_safe('\set VERBOSITY verbose');
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, q{\echo started
SELECT gw_modify_spec('inst-c1', 'api.s1.medium');
SELECT 'after:' || extract(epoch FROM clock_timestamp());
});
ok( $node->poll_query_until(
		'postgres',
		"SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $pid"),
	'the waiting caller shows an Extension wait event in pg_stat_activity');
# cancelled once the worker has it (a call not recorded yet is dropped)
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM gw_audit WHERE instance_id = 'inst-c1' AND status = 'sending'")
  or die "inst-c1 was not recorded in sending";
my $t0 = $node->safe_psql('postgres',
	"SELECT pg_cancel_backend($pid)::text || ':' || extract(epoch FROM clock_timestamp())");
$t0 =~ s/^true://;
my ($out, $err) = $bg->query('SELECT 1');
like($bg->{stderr} . ($err // ''), qr/57014/, 'pg_cancel_backend: SQLSTATE 57014')
  or diag("stdout: $out");
my ($t1) = $out =~ /after:([0-9.]+)/;
ok(defined $t1 && $t1 - $t0 < 0.2,
	sprintf('the caller was released %.0f ms after the cancel', (($t1 // 99) - $t0) * 1000));
is(row_status('inst-c1'), 'sending', 'the call is still in flight');
ok($node->poll_query_until('postgres',
		"SELECT status IN ('accepted', 'succeeded') FROM gw_audit WHERE instance_id = 'inst-c1'"),
	'the worker records the true outcome: accepted');
is(mock_count($mock, instance_id => 'inst-c1'), 1, 'the call was sent once');

# the same session can call again: its slot was released
($out) = $bg->query(q{SELECT status FROM gw_modify_spec('inst-c1b', 'api.s1.medium')});
is($out, 'accepted', 'the cancelled session calls again');

# -- statement_timeout during a hung call
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', kind => 'hang', ms => 3000 } ] });
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', q{\set VERBOSITY verbose
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SET statement_timeout = '300ms';
SELECT gw_modify_spec('inst-c2', 'api.s1.medium');
RESET statement_timeout;
SELECT extract(epoch FROM clock_timestamp()) - :t0;
}, on_error_stop => 0);
like($stderr, qr/57014: canceling statement due to statement timeout/,
	'statement_timeout: SQLSTATE 57014');
ok($stdout >= 0.3 && $stdout < 0.5,
	sprintf('released %.0f ms after the start (timeout 300 ms)', $stdout * 1000));
ok($node->poll_query_until('postgres',
		"SELECT status <> 'sending' FROM gw_audit WHERE instance_id = 'inst-c2'"),
	'the hung call leaves sending');
is($node->safe_psql('postgres',
		"SELECT status || ' ' || error_code FROM gw_audit WHERE instance_id = 'inst-c2'"),
	'failed TransportError', 'its true state: the provider closed without answering');

# -- pg_terminate_backend while waiting
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', kind => 'latency', ms => 1000 } ] });
($pid) = $bg->query('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, q{\echo started
SELECT gw_modify_spec('inst-c3', 'api.s1.medium');
});
$node->poll_query_until('postgres',
	"SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $pid")
  or die "the caller of inst-c3 did not wait on the worker";
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM gw_audit WHERE instance_id = 'inst-c3' AND status = 'sending'")
  or die "inst-c3 was not recorded in sending";
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
eval { $bg->quit };
ok($node->poll_query_until('postgres',
		"SELECT status IN ('accepted', 'succeeded') FROM gw_audit WHERE instance_id = 'inst-c3'"),
	'a terminated caller\'s call is recorded all the same');

# -- one resize per instance at a time
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', kind => 'latency', ms => 2000 } ] });
my $bg2 = $node->background_psql('postgres', on_error_stop => 0);
$bg2->query_until(qr/started/, q{\echo started
SELECT gw_modify_spec('inst-c4', 'api.s1.medium');
});
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM gw_audit WHERE instance_id = 'inst-c4' AND status = 'sending'")
  or die "inst-c4 was not recorded in sending";
($ret, $stdout, $stderr) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT gw_modify_spec('inst-c4', 'api.s1.large')");
like($stderr, qr/55006: instance "inst-c4" already has a resize in progress/,
	'a second call for a busy instance is refused');
$bg2->quit;
is($node->safe_psql('postgres',
		"SELECT string_agg(status, ',') FROM gw_audit WHERE instance_id = 'inst-c4'"),
	'accepted', 'only the first call was recorded and sent');
is(mock_count($mock, instance_id => 'inst-c4'), 1, 'the mock saw one call');

is($node->safe_psql('postgres', "SELECT count(*) FROM gw_audit WHERE status = 'sending'"),
	'0', 'no row is left in sending');
$node->stop;
done_testing();
