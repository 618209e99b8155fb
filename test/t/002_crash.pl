# A crash loses nothing: a row left in 'sending' by a kill -9 of the worker
# or an immediate shutdown becomes 'unknown' when the worker starts again,
# and is then resolved: Alibaba calls are re-sent with the same Token
# (idempotent), Huawei calls are resolved by reading the instance first, so
# no instance is resized twice.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('crash', $mock, "restart_after_crash = on\n");
gw_servers($node, $mock, "read_before_resize 'false', timeout_ms '2000', max_retries '0'");

sub worker_pid
{
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
}

# a call is held at the provider; its row is committed in 'sending'
sub held_call
{
	my ($sql, $inst) = @_;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_until(qr/started/, "\\echo started\n$sql;\n");
	ok( $node->poll_query_until(
			'postgres', "SELECT status = 'sending' FROM gw_audit WHERE instance_id = '$inst'"),
		"$inst: row committed in sending before the answer");
	return $bg;
}

ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker'"),
	'the worker runs');

# -- kill -9 of the worker while an Alibaba call hangs at the provider
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', kind => 'hang', ms => 20000 } ] });
my $bg = held_call(q{SELECT gw_modify_spec('inst-k1', 'api.s1.medium', token => 'crash-token-k1')}, 'inst-k1');
my $pid = worker_pid();
kill 'KILL', $pid;
eval { $bg->quit };
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker' AND pid <> $pid"),
	'the worker is back after the crash');
ok($node->log_contains('call\(s\) interrupted by a restart marked unknown'),
	'the worker logs what it marked unknown');
ok($node->poll_query_until('postgres',
		"SELECT status IN ('accepted', 'succeeded') FROM gw_audit WHERE instance_id = 'inst-k1'"),
	'the interrupted Alibaba call is resolved: accepted');
is(mock_count($mock, token => 'crash-token-k1'), 2, 'it was re-sent with the same Token');
is(mock_call($mock, 'GET', 'instances?instance_id=inst-k1')->[0]{resizes}, 1,
	'the instance was resized once');

# -- an immediate shutdown while a Huawei resize is being applied: the
#    provider got it, the answer is lost
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'huawei', action => 'resize', kind => 'latency', ms => 1200 } ] });
$bg = held_call(q{SELECT gw_resize('inst-k2', 'PROFESSIONAL')}, 'inst-k2');
$node->stop('immediate');
eval { $bg->quit };
$node->start;
ok($node->poll_query_until('postgres',
		"SELECT status IN ('accepted', 'succeeded') FROM gw_audit WHERE instance_id = 'inst-k2'"),
	'the interrupted Huawei call is resolved: accepted');
is(mock_count($mock, instance_id => 'inst-k2', action => 'resize'), 1,
	'it was not sent again: the instance showed the resize');
is(mock_call($mock, 'GET', 'instances?instance_id=inst-k2')->[0]{resizes}, 1,
	'the Huawei instance was resized once');

# -- a Huawei call that never reached the provider is sent again
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'huawei', action => 'resize', kind => 'hang', ms => 20000 } ] });
$bg = held_call(q{SELECT gw_resize('inst-k3', 'PROFESSIONAL')}, 'inst-k3');
$pid = worker_pid();
kill 'KILL', $pid;
eval { $bg->quit };
ok($node->poll_query_until('postgres',
		"SELECT status IN ('accepted', 'succeeded') FROM gw_audit WHERE instance_id = 'inst-k3'"),
	'the unapplied Huawei call is re-sent and accepted');
is(mock_call($mock, 'GET', 'instances?instance_id=inst-k3')->[0]{resizes}, 1,
	'and applied once');

is($node->safe_psql('postgres',
		"SELECT count(*) FROM gw_audit WHERE status IN ('sending', 'unknown')"),
	'0', 'no row is left in sending or unknown');
is($node->safe_psql('postgres', "SELECT status FROM gw_modify_spec('inst-k4', 'api.s1.medium')"),
	'accepted', 'a new call goes through after the restarts');
$node->stop;
done_testing();
