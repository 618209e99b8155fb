# A crash loses nothing: a row left in 'sending' by a kill -9 of the worker
# or an immediate shutdown becomes 'unknown' when the worker starts again,
# and nothing is ever left in 'sending'.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('crash', $mock, "restart_after_crash = on\n");
gw_servers($node, $mock, "timeout_ms '60000', max_retries '0'");

sub worker_pid
{
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
}

# a call hangs at the provider; its row is committed in 'sending'
sub hung_call
{
	my ($inst) = @_;
	mock_call($mock, 'POST', 'faults',
		{ faults => [ { provider => 'aliyun', kind => 'hang', ms => 20000 } ] });
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_until(qr/started/, "\\echo started\nSELECT gw_modify_spec('$inst', 'api.s1.medium');\n");
	ok( $node->poll_query_until(
			'postgres', "SELECT status = 'sending' FROM gw_audit WHERE instance_id = '$inst'"),
		"$inst: row committed in sending before the answer");
	ok($node->poll_query_until('postgres', "SELECT count(*) > 0 FROM pg_stat_activity"),
		'server up');
	return $bg;
}

# -- kill -9 of the worker
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker'"),
	'the worker runs');
my $bg = hung_call('inst-k1');
my $pid = worker_pid();
kill 'KILL', $pid;
eval { $bg->quit };
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker' AND pid <> $pid"),
	'the worker is back after the crash');
ok($node->poll_query_until('postgres',
		"SELECT status = 'unknown' FROM gw_audit WHERE instance_id = 'inst-k1'"),
	'the interrupted row is unknown');
is($node->safe_psql('postgres', "SELECT count(*) FROM gw_audit WHERE status = 'sending'"),
	'0', 'no row is left in sending after kill -9');
ok($node->log_contains('call\(s\) interrupted by a restart marked unknown'),
	'the worker logs what it reconciled');

# -- an immediate shutdown
mock_call($mock, 'POST', 'reset', {});
$bg = hung_call('inst-k2');
$node->stop('immediate');
eval { $bg->quit };
$node->start;
ok($node->poll_query_until('postgres',
		"SELECT status = 'unknown' FROM gw_audit WHERE instance_id = 'inst-k2'"),
	'after an immediate shutdown the row is unknown');
is($node->safe_psql('postgres', "SELECT count(*) FROM gw_audit WHERE status = 'sending'"),
	'0', 'no row is left in sending after an immediate shutdown');

# -- calls work again
mock_call($mock, 'POST', 'reset', {});
is($node->safe_psql('postgres', "SELECT status FROM gw_modify_spec('inst-k3', 'api.s1.medium')"),
	'accepted', 'a new call goes through after the restarts');
$node->stop;
done_testing();
